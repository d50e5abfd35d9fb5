"""examples/train/train.py on its own (the host's python3, as the process runtime runs it): a run resumed
from its checkpoint ends exactly where an uninterrupted one does; a run killed at any instant leaves
only whole checkpoints behind; a directory with no checkpoint starts from epoch 0."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

from support import wait_for_sync
from support.minictl import ROOT

SCRIPT = os.path.join(ROOT, "examples", "train", "train.py")
SMALL = ["--samples", "2000", "--device", "cpu"]


def train(ckpt, epochs: int, *extra: str) -> list[str]:
    out = subprocess.run([sys.executable, SCRIPT, "--checkpoint-dir", str(ckpt), "--epochs", str(epochs),
                          *SMALL, *extra], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    whole = train(tmp_path / "whole", 6)
    assert whole[:2] == ["device: cpu", f"starting from epoch 0 (no checkpoint in {tmp_path / 'whole'})"]
    assert [line.split()[1] for line in whole[2:-1]] == ["1", "2", "3", "4", "5", "6"]
    assert whole[-1] == "done: 6 epochs"

    first = train(tmp_path / "split", 4)
    second = train(tmp_path / "split", 6)
    assert second[1] == "resumed from epoch 4"
    assert first[2:-1] + second[2:-1] == whole[2:-1]       # the same losses, to the last digit
    assert sorted(os.listdir(tmp_path / "split")) == ["ckpt-000005.json", "ckpt-000006.json"]


def test_a_run_killed_mid_epoch_leaves_whole_checkpoints_only(tmp_path):
    ckpt = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, SCRIPT, "--checkpoint-dir", str(ckpt), "--epochs", "1000",
                             "--samples", "500", "--device", "cpu", "--keep", "1000"],
                            stdout=subprocess.PIPE, text=True)
    try:
        wait_for_sync(lambda: re.match(r"epoch 5 ", proc.stdout.readline()), what="epoch 5", timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    names = sorted(os.listdir(ckpt))
    finished = [n for n in names if not n.startswith(".")]
    assert len(finished) >= 5
    for name in finished:
        state = json.loads((ckpt / name).read_text())
        assert name == f"ckpt-{state['epoch']:06d}.json" and len(state["weights"]) == 8
    resumed = train(ckpt, len(finished) + 1, "--keep", "1000")
    assert resumed[1] == f"resumed from epoch {len(finished)}"
