"""A small training run that survives being killed: logistic regression on generated data (fixed seed),
one checkpoint per epoch, resumed from the newest checkpoint it finds.

    python3 train.py --checkpoint-dir /checkpoints --epochs 20

Checkpoints are JSON files `ckpt-NNNNNN.json` in the checkpoint directory (or $CHECKPOINT_DIR), each
written atomically: to a temporary file in the same directory, fsynced, renamed over its final name,
then the directory fsynced, so a machine that dies at any instant leaves either the previous checkpoint
or the new one, never a torn file. The last `--keep` are kept.

Every epoch shuffles the data with a seed made of the run's seed and the epoch number, so a run resumed
from epoch N computes exactly what an uninterrupted one would have.

It needs only the standard library (pure Python on the CPU). With `torch` installed and a CUDA device
visible (`--device auto`, the default, or `--device cuda`), the same model trains on the GPU; the
checkpoints have the same format either way, so a run may move between a GPU node and a CPU node.

Output: one line saying where it starts (`resumed from epoch N` or `starting from epoch 0`), one line
per epoch (`epoch N loss X`), and `done`."""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import tempfile

CHECKPOINT = re.compile(r"^ckpt-(\d{6})\.json$")
BATCH = 100


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint-dir", default=os.environ.get("CHECKPOINT_DIR", "checkpoints"),
                   help="where checkpoints are written and read (default $CHECKPOINT_DIR or ./checkpoints)")
    p.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "20")))
    p.add_argument("--samples", type=int, default=int(os.environ.get("SAMPLES", "20000")),
                   help="generated examples; the time an epoch takes grows with it")
    p.add_argument("--features", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", type=int, default=2, help="checkpoints kept (default 2)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=os.environ.get("DEVICE", "auto"))
    return p.parse_args(argv)


# ---------------------------------------------------------------- data
def make_data(seed: int, n: int, d: int) -> tuple[list[list[float]], list[float]]:
    """Points from a standard normal, labelled by a fixed hidden linear rule with some noise."""
    rng = random.Random(seed)
    truth = [rng.uniform(-2, 2) for _ in range(d)]
    xs, ys = [], []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(d)]
        p = _sigmoid(sum(w * v for w, v in zip(truth, x)))
        xs.append(x)
        ys.append(1.0 if rng.random() < p else 0.0)
    return xs, ys


def epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


# ---------------------------------------------------------------- checkpoints
def save_checkpoint(directory: str, state: dict, keep: int) -> str:
    """Write `state` as ckpt-<epoch>.json atomically and durably; drop all but the newest `keep`."""
    final = os.path.join(directory, f"ckpt-{state['epoch']:06d}.json")
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)          # the rename itself survives a crash only once the directory is synced
    for old in _checkpoints(directory)[:-keep]:
        os.unlink(os.path.join(directory, old))
    return final


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checkpoints(directory: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if CHECKPOINT.match(n))


def latest_checkpoint(directory: str) -> dict | None:
    """The newest checkpoint that reads back whole (temporary files of a killed writer are ignored)."""
    for name in reversed(_checkpoints(directory)):
        try:
            with open(os.path.join(directory, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            continue
    return None


# ---------------------------------------------------------------- training
def train_epoch_cpu(w: list[float], b: float, xs, ys, order, lr: float) -> tuple[list[float], float, float]:
    """One pass of mini-batch gradient descent; returns the new weights, bias and the mean loss."""
    total = 0.0
    for start in range(0, len(order), BATCH):
        batch = order[start:start + BATCH]
        gw = [0.0] * len(w)
        gb = 0.0
        for i in batch:
            x, y = xs[i], ys[i]
            p = _sigmoid(sum(wj * xj for wj, xj in zip(w, x)) + b)
            p = min(max(p, 1e-12), 1 - 1e-12)
            total -= y * math.log(p) + (1 - y) * math.log(1 - p)
            err = p - y
            for j, xj in enumerate(x):
                gw[j] += err * xj
            gb += err
        scale = lr / len(batch)
        w = [wj - scale * g for wj, g in zip(w, gw)]
        b -= scale * gb
    return w, b, total / len(order)


def cuda_trainer(device: str):
    """A torch trainer on the first CUDA device, or None when torch or CUDA is missing (auto)."""
    if device == "cpu":
        return None
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        if device == "cuda":
            sys.exit("error: --device cuda: torch with a CUDA device is needed")
        return None

    def train_epoch(w, b, xs, ys, order, lr):
        X = torch.tensor(xs, dtype=torch.float64, device="cuda")
        Y = torch.tensor(ys, dtype=torch.float64, device="cuda")
        wt = torch.tensor(w, dtype=torch.float64, device="cuda")
        bt = torch.tensor(b, dtype=torch.float64, device="cuda")
        idx = torch.tensor(order, device="cuda")
        total = torch.zeros((), dtype=torch.float64, device="cuda")
        for start in range(0, len(order), BATCH):
            sel = idx[start:start + BATCH]
            x, y = X[sel], Y[sel]
            p = torch.sigmoid(x @ wt + bt).clamp(1e-12, 1 - 1e-12)
            total -= (y * p.log() + (1 - y) * (1 - p).log()).sum()
            err = p - y
            wt = wt - lr / len(sel) * (x.T @ err)
            bt = bt - lr / len(sel) * err.sum()
        return wt.tolist(), float(bt), float(total) / len(order)

    return train_epoch, f"cuda ({torch.cuda.get_device_name(0)})"


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.makedirs(args.checkpoint_dir, exist_ok=True)
    cuda = cuda_trainer(args.device)
    train_epoch, device = cuda if cuda else (train_epoch_cpu, "cpu")
    print(f"device: {device}", flush=True)
    xs, ys = make_data(args.seed, args.samples, args.features)
    state = latest_checkpoint(args.checkpoint_dir)
    if state is None:
        state = {"epoch": 0, "weights": [0.0] * args.features, "bias": 0.0, "loss": None}
        print(f"starting from epoch 0 (no checkpoint in {args.checkpoint_dir})", flush=True)
    else:
        print(f"resumed from epoch {state['epoch']}", flush=True)
    w, b = state["weights"], state["bias"]
    for epoch in range(state["epoch"] + 1, args.epochs + 1):
        w, b, loss = train_epoch(w, b, xs, ys, epoch_order(args.seed, epoch, args.samples), args.lr)
        save_checkpoint(args.checkpoint_dir, {"epoch": epoch, "weights": w, "bias": b, "loss": loss}, args.keep)
        print(f"epoch {epoch} loss {loss:.6f}", flush=True)
    print(f"done: {args.epochs} epochs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
