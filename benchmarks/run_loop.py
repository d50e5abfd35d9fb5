"""`minictl run` in the developer loop, measured (the rows `benchmarks.dev_loop` prints first).

On a one-node process-runtime cluster (`minictl up`), each figure beside its baseline from the same run:
- Edit-and-rerun: a one-line change to a script, then `minictl run script.py --follow`, from submitting
  to the script's first log line on the terminal, beside `python script.py` run directly (its start to
  its first line). Target: at most 1.5 s above it.
- A new library: the first run with a new requirement (its environment built) beside `python -m venv`
  plus `pip install` of it into a fresh virtualenv (the floor); the second run with the same
  requirements (its environment reused) beside the edit-and-rerun figure. Target: within 10%.
Each figure is the median of a few runs; the first-run figure is one run (one new environment)."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.common import Row, log
from benchmarks.pod_startup import MiniCluster

PACKAGE = "tabulate==0.9.0"
SCRIPT = "import sys\nprint('edit {n}', flush=True)\n{imports}"
FIRST_LINE = "edit "


def _first_line_seconds(argv: list[str], env: dict, timeout: float = 600.0) -> float:
    """Seconds from starting argv to its first stdout line that begins with FIRST_LINE; runs it to the end."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = None
    deadline = t + timeout
    for line in proc.stdout:
        if seen is None and line.startswith(FIRST_LINE):
            seen = time.perf_counter() - t
        if time.perf_counter() > deadline:
            proc.kill()
            break
    err = proc.stderr.read()
    if proc.wait() != 0 or seen is None:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {err[-2000:]}")
    return seen


def _write(path: str, n: int, imports: str = "") -> None:
    with open(path, "w") as f:
        f.write(SCRIPT.format(n=n, imports=imports))


def _fresh_venv_install(python: str, work: str) -> float:
    """The floor for a new library: a fresh virtualenv and pip install of it, from nothing."""
    env_dir = os.path.join(work, "venv")
    t = time.perf_counter()
    subprocess.run([python, "-m", "venv", env_dir], check=True, capture_output=True)
    subprocess.run([os.path.join(env_dir, "bin", "python"), "-m", "pip", "install", "-q", PACKAGE],
                   check=True, capture_output=True)
    seconds = time.perf_counter() - t
    shutil.rmtree(env_dir, ignore_errors=True)
    return seconds


def run_rows(quick: bool = False) -> list[Row]:
    from minik8s.cli.runcmds import _host_python
    repeats = 3 if quick else 5
    python = _host_python()
    work = tempfile.mkdtemp(prefix="minik8s-runloop-")
    script = os.path.join(work, "script.py")
    cluster = MiniCluster("process", 1)
    with open(cluster.cluster_file, "a") as f:
        f.write("runtime: process\n")
    ctl = [sys.executable, "-m", "minik8s.cli.main", "run", script, "--follow"]
    try:
        cluster.up()
        direct, rerun, reused = [], [], []
        for n in range(repeats):
            _write(script, n)
            direct.append(_first_line_seconds([python, script], cluster.env))
            _write(script, n + 100)
            rerun.append(_first_line_seconds([*ctl, "--name", f"edit-{n}"], cluster.env))
        log(f"python script.py {direct}, minictl run {rerun}")
        _write(script, 0, "import tabulate\n")
        floor = _fresh_venv_install(python, work)
        first = _first_line_seconds([*ctl, "--name", "lib-first", "--pip", PACKAGE], cluster.env)
        for n in range(repeats):
            _write(script, n + 200, "import tabulate\n")
            reused.append(_first_line_seconds([*ctl, "--name", f"lib-{n}", "--pip", PACKAGE], cluster.env))
        log(f"fresh venv + pip install {floor:.2f}, first run {first:.2f}, later runs {reused}")
    finally:
        cluster.down()
        shutil.rmtree(work, ignore_errors=True)
    d, r, s = statistics.median(direct), statistics.median(rerun), statistics.median(reused)
    return [
        Row("edit-and-rerun: minictl run to the first log line", r, d, "s", baseline_label="python script.py",
            fmt="{:.2f}"),
        Row("edit-and-rerun: time above python script.py", r - d, None, "s", target=("<=", 1.5), fmt="{:.2f}"),
        Row(f"first run with a new library ({PACKAGE})", first, floor, "s",
            baseline_label="fresh venv + pip install", fmt="{:.2f}"),
        Row("second run, same requirements (environment reused)", s, r, "s", baseline_label="edit-and-rerun",
            target=("<=", 1.10), relative=True, fmt="{:.2f}"),
    ]
