"""Where nodes come from: the provider interface (after upstream's cloudprovider.NodeGroup) and the
local provider, which starts and stops a group's nodes with `minictl node add` and `minictl node remove`,
the same machinery a person uses (a subprocess: no component imports the CLI). A cloud would plug in
here: the autoscaler only asks for more nodes of a group and for one node to go."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from typing import Protocol

from minik8s.api.nodegroups import NodeGroup

log = logging.getLogger("minik8s.autoscaler")


class Provider(Protocol):
    def node_groups(self) -> list[NodeGroup]: ...

    def starting(self, group: str) -> set[str]:
        """Names of the group's nodes asked for and not yet known to have started or failed."""

    def failed(self, group: str) -> int:
        """How many node starts of the group failed since the last call (then forgotten)."""

    async def increase_size(self, group: NodeGroup, names: list[str]) -> None:
        """Start nodes of `group` with these names; returns once asked, not once they are Ready."""

    async def delete_node(self, group: NodeGroup, name: str) -> bool:
        """Stop a drained node and delete its Node; returns once it is gone (True) or could not go."""


def minictl_command() -> list[str]:
    """minictl beside this interpreter (the same installation), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "minictl")
    return [beside] if os.path.exists(beside) else [shutil.which("minictl") or "minictl"]


class LocalProvider:
    """Node groups of the local cluster `minictl up` runs in HOME."""

    def __init__(self, home: str, groups: list[NodeGroup], command: list[str] | None = None,
                 ready_timeout: float = 120.0):
        self.home = home
        self.groups = groups
        self.command = command or minictl_command()
        self.ready_timeout = ready_timeout
        self._starting: dict[str, set[str]] = {g.name: set() for g in groups}
        self._failed: dict[str, int] = {g.name: 0 for g in groups}
        self._tasks: set[asyncio.Task] = set()
        self._lock = asyncio.Lock()        # minictl node add/remove rewrite HOME/nodes.yaml: one at a time

    def node_groups(self) -> list[NodeGroup]:
        return self.groups

    def starting(self, group: str) -> set[str]:
        return set(self._starting.get(group, ()))

    def failed(self, group: str) -> int:
        n, self._failed[group] = self._failed.get(group, 0), 0
        return n

    async def increase_size(self, group: NodeGroup, names: list[str]) -> None:
        for name in names:
            self._starting[group.name].add(name)
            task = asyncio.create_task(self._add(group, name), name=f"node-add-{name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _add(self, group: NodeGroup, name: str) -> None:
        argv = ["node", "add", name, "--cpu", group.cpu, "--memory", group.memory,
                "--labels", ",".join(f"{k}={v}" for k, v in group.node_labels().items()),
                "--timeout", f"{self.ready_timeout:g}s"]
        if group.gpus:
            argv += ["--gpus", str(group.gpus)]
        if group.taints:
            argv += ["--taints", ",".join(f"{t['key']}{'=' + t['value'] if t['value'] else ''}:{t['effect']}"
                                          for t in group.taints)]
        if group.runtime:
            argv += ["--runtime", group.runtime]
        try:
            ok = await self._minictl(argv)
        finally:
            self._starting[group.name].discard(name)
        if not ok:
            self._failed[group.name] += 1

    async def delete_node(self, group: NodeGroup, name: str) -> bool:
        # the autoscaler drained it already; what is left are DaemonSet and mirror pods
        return await self._minictl(["node", "remove", name, "--force", "--delete-emptydir-data", "--timeout", "60s"])

    async def _minictl(self, argv: list[str]) -> bool:
        async with self._lock:
            proc = await asyncio.create_subprocess_exec(
                *self.command, *argv, "--home", self.home, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env=dict(os.environ, MINIK8S_HOME=self.home))
            out, _ = await proc.communicate()
        text = out.decode(errors="replace").strip()
        if proc.returncode != 0:
            log.warning("minictl %s failed (%d): %s", " ".join(argv[:3]), proc.returncode, text)
            return False
        log.info("minictl %s: %s", " ".join(argv[:3]), text.splitlines()[-1] if text else "done")
        return True

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
