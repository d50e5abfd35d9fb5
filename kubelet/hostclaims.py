"""Who uses a host-wide resource that several clusters may share: a node's bridge (process runtime) or
Docker network (docker runtime) is named after the node alone, so two clusters on one host that both
have a node-1 use one. Each node that uses it records a claim, a file under CLAIMS_ROOT/<resource>/
holding the node's state directory; the resource may go when its last claim goes. A claim whose state
directory no longer exists (its cluster's home removed, or the host rebooted) no longer holds it."""
from __future__ import annotations

import hashlib
import os

# on tmpfs, as the bridges and networks they speak for: both go at reboot
CLAIMS_ROOT = "/run/minik8s/claims" if os.geteuid() == 0 else f"/tmp/minik8s-{os.geteuid()}/claims"


def _claim_path(resource: str, holder: str, root: str) -> str:
    holder = os.path.abspath(holder)
    return os.path.join(root, resource, hashlib.sha1(holder.encode()).hexdigest()[:16])


def claim(resource: str, holder: str, root: str = CLAIMS_ROOT) -> None:
    """Record that `holder` (a node's state directory) uses `resource`; a no-op when it already has."""
    path = _claim_path(resource, holder, root)
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(os.path.abspath(holder))
    os.replace(path + ".tmp", path)


def release(resource: str, holder: str, root: str = CLAIMS_ROOT) -> bool:
    """Drop `holder`'s claim and those whose holder is gone; True when no claim on `resource` is left,
    so the caller may remove it."""
    try:
        os.unlink(_claim_path(resource, holder, root))
    except FileNotFoundError:
        pass
    folder = os.path.join(root, resource)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return True
    left = False
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path) as f:
                other = f.read()
        except FileNotFoundError:
            continue
        if os.path.isdir(other):
            left = True
        else:
            os.unlink(path)
    if not left:
        try:
            os.rmdir(folder)
        except OSError:
            pass       # a claim made meanwhile: it stays, and so does the resource's record
    return not left
