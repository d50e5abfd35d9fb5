"""Every lesson in tutorials/ is executed by tutorials/runner.py against a real local cluster, each alone
in a home of its own and all of them in order in one home, as a learner follows them; whatever the
outcome the cluster is torn down. A lesson that needs root or a Docker engine says so in a comment line
`<!-- needs: root docker -->`, and is marked accordingly. Each lesson starts its own cluster and ends
with `minictl down --purge`, so none leaves anything behind for the next: the home is gone after it."""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import time

import pytest

from cluster import ROOT
from tutorials.runner import run_lesson

LESSONS = sorted(glob.glob(os.path.join(ROOT, "tutorials", "[0-9][0-9]-*.md")))


def _needs(path: str) -> list[str]:
    with open(path) as f:
        m = re.search(r"<!--\s*needs:([^>]*)-->", f.read())
    return [n for n in (m.group(1).split() if m else []) if n in ("root", "docker")]


def _params():
    for path in LESSONS:
        marks = [getattr(pytest.mark, n) for n in _needs(path)]
        yield pytest.param(path, marks=marks, id=os.path.basename(path)[:-3])


def _run(lesson: str, home) -> list:
    """Runs one lesson with MINIK8S_HOME=home; prints how long it took (`pytest -s` shows it)."""
    env = {"MINIK8S_HOME": str(home),
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.monotonic()
    try:
        return run_lesson(lesson, env, timeout=120)
    finally:
        print(f"{os.path.basename(lesson)}: {time.monotonic() - t0:.1f} s")
        if home.exists():
            subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", str(home), "down"],
                           capture_output=True, timeout=60, env=dict(os.environ, **env))


@pytest.mark.parametrize("lesson", list(_params()))
def test_lesson(lesson, tmp_path):
    home = tmp_path / "home"
    failures = _run(lesson, home)
    assert not failures, "\n\n".join(str(f) for f in failures)
    assert not home.exists(), f"{lesson} left its cluster home behind: it must end with `minictl down --purge`"


def _needs_of_all(test):
    """Marks `test` with what any lesson needs (root, docker)."""
    for need in sorted({n for path in LESSONS for n in _needs(path)}):
        test = getattr(pytest.mark, need)(test)
    return test


@_needs_of_all
def test_lessons_in_order_in_one_home(tmp_path):
    """A learner runs the lessons one after the other with the same MINIK8S_HOME: none may trip over
    what an earlier one left (its nodes, its objects, its processes)."""
    home = tmp_path / "home"
    for lesson in LESSONS:
        failures = _run(lesson, home)
        assert not failures, "\n\n".join(str(f) for f in failures)
        assert not home.exists(), f"{lesson} left its cluster home behind"
