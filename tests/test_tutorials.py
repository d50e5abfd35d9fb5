"""Every lesson in tutorials/ is executed by tutorials/runner.py against a real local cluster in a home
of its own, which is torn down whatever the outcome. A lesson that needs root or a Docker engine says
so in a comment line `<!-- needs: root docker -->`, and is marked accordingly."""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import pytest

from cluster import ROOT
from tutorials.runner import run_lesson

LESSONS = sorted(glob.glob(os.path.join(ROOT, "tutorials", "[0-9][0-9]-*.md")))


def _params():
    for path in LESSONS:
        with open(path) as f:
            m = re.search(r"<!--\s*needs:([^>]*)-->", f.read())
        needs = m.group(1).split() if m else []
        marks = [getattr(pytest.mark, n) for n in needs if n in ("root", "docker")]
        yield pytest.param(path, marks=marks, id=os.path.basename(path)[:-3])


@pytest.mark.parametrize("lesson", list(_params()))
def test_lesson(lesson, tmp_path):
    home = tmp_path / "home"
    env = {"MINIK8S_HOME": str(home),
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        failures = run_lesson(lesson, env, timeout=120)
    finally:
        subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", str(home), "down"],
                       capture_output=True, timeout=60, env=dict(os.environ, **env))
    assert not failures, "\n\n".join(str(f) for f in failures)
