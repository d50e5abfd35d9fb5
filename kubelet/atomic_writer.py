"""Upstream's AtomicWriter (pkg/volume/util/atomic_writer.go): a volume's files (ConfigMap, Secret) change
all at once, so a reader never sees half of an update.

    <dir>/..2024_05_01_10_00_00.123456789/   the payload, written in full first (a fresh directory)
    <dir>/..data -> ..2024_05_01_...         swapped by renaming a new symlink over it: the one atomic step
    <dir>/<key> -> ..data/<key>              what users see: one symlink per top-level path, made once

A payload equal to what is there writes nothing. Paths that left the payload lose their symlink, and the
previous timestamped directory goes once `..data` points past it."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"

# path in the volume -> (content, file mode)
Payload = dict[str, tuple[bytes, int]]


def _current(target: str) -> str | None:
    try:
        return os.readlink(os.path.join(target, DATA_DIR))
    except OSError:
        return None


def _unchanged(ts_dir: str, payload: Payload) -> bool:
    present = set()
    for dirpath, _, files in os.walk(ts_dir):
        for f in files:
            present.add(os.path.relpath(os.path.join(dirpath, f), ts_dir))
    if present != set(payload):
        return False
    for path, (data, mode) in payload.items():
        full = os.path.join(ts_dir, path)
        if os.stat(full).st_mode & 0o7777 != mode:
            return False
        with open(full, "rb") as f:
            if f.read() != data:
                return False
    return True


def _write_ts_dir(target: str, payload: Payload) -> str:
    stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime())
    ts_dir = tempfile.mkdtemp(prefix=f"..{stamp}.", dir=target)
    os.chmod(ts_dir, 0o755)
    for path, (data, mode) in payload.items():
        full = os.path.join(ts_dir, path)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        os.chmod(full, mode)
    return os.path.basename(ts_dir)


def _user_visible(payload: Payload) -> set[str]:
    return {path.split("/", 1)[0] for path in payload}


def write(target: str, payload: Payload) -> bool:
    """Make `target` hold exactly `payload`; returns whether anything was written."""
    os.makedirs(target, exist_ok=True)
    old = _current(target)
    if old is not None and os.path.isdir(os.path.join(target, old)) and \
            _unchanged(os.path.join(target, old), payload):
        return False
    new = _write_ts_dir(target, payload)
    tmp_link = os.path.join(target, _DATA_TMP)
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(new, tmp_link)
    os.rename(tmp_link, os.path.join(target, DATA_DIR))        # the switch readers see at once
    wanted = _user_visible(payload)
    for name in wanted:
        link = os.path.join(target, name)
        if not os.path.lexists(link):
            os.symlink(os.path.join(DATA_DIR, name), link)
    for name in os.listdir(target):
        if not name.startswith("..") and name not in wanted:
            os.unlink(os.path.join(target, name))
    for name in os.listdir(target):       # older timestamped directories, left by an interrupted write too
        if name.startswith("..") and name not in (DATA_DIR, new) and os.path.isdir(os.path.join(target, name)) \
                and not os.path.islink(os.path.join(target, name)):
            shutil.rmtree(os.path.join(target, name), ignore_errors=True)
    return True
