"""Every lesson in tutorials/ is executed by tutorials/runner.py against a real local cluster, in order,
all in one MINIK8S_HOME, as a learner follows them: none may trip over what an earlier one left (its
nodes, its objects, its processes). Each lesson is a test of its own, so a failure names its lesson;
whatever the outcome the cluster is torn down and purged before the next one. A lesson that needs root
or a Docker engine says so in a comment line `<!-- needs: root docker -->`, and is marked accordingly.
Each lesson starts its own cluster and ends with `minictl down --purge`, so none leaves anything behind
for the next: the home is gone after it."""
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


def _run(lesson: str, home) -> tuple[list, bool]:
    """Runs one lesson with MINIK8S_HOME=home; prints how long it took (`pytest -s` shows it). Returns
    its failures and whether it left its home behind; either way the cluster is then purged."""
    env = {"MINIK8S_HOME": str(home),
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.monotonic()
    left_behind = True
    try:
        failures = run_lesson(lesson, env, timeout=120)
        left_behind = home.exists()
        return failures, left_behind
    finally:
        print(f"{os.path.basename(lesson)}: {time.monotonic() - t0:.1f} s")
        if home.exists():
            subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", str(home), "down", "--purge"],
                           capture_output=True, timeout=60, env=dict(os.environ, **env))


@pytest.fixture(scope="module")
def learner_home(tmp_path_factory):
    """The one home every lesson runs in, in order."""
    return tmp_path_factory.mktemp("learner") / "home"


@pytest.mark.parametrize("lesson", list(_params()))
def test_lesson(lesson, learner_home):
    failures, left_behind = _run(lesson, learner_home)
    assert not failures, "\n\n".join(str(f) for f in failures)
    assert not left_behind, f"{lesson} left its cluster home behind: it must end with `minictl down --purge`"
