"""The scheduler's picture of the cluster: a NodeInfo per node with the pods counted on it.

Pods bound in the API (seen through the informer) and pods the scheduler has *assumed* (decided, bind
not yet seen) count alike, so the next decision already sees the capacity taken and consecutive
decisions never overcommit a node. A failed bind forgets the assumed pod; the informer's bound pod
confirms it.

Every change to a NodeInfo gives it a new `generation` and appends its name to a change log, so a
reader holding results per node (the framework's per-kind evaluations) re-examines only the nodes
that changed since it last looked. The scheduling cycle runs without awaiting, so it reads this cache
directly, without locks or copies: nothing can change it mid-cycle."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from minik8s.scheduler.nodeinfo import NodeInfo, PodInfo

LOG_LIMIT = 200_000     # changes kept; a reader further behind starts over


@dataclass(slots=True)
class _PodState:
    info: PodInfo
    node: str
    assumed: bool


class SchedulerCache:
    def __init__(self):
        self.nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self.seq = 0
        self._log: list[str] = []
        self._log_start = 0                 # seq of the change before _log[0]
        self._ready_nodes = 0               # NodeInfos that have a Node
        self.prefer_taint_nodes = 0         # nodes with PreferNoSchedule taints
        self.usage_nodes = 0                # nodes whose kubelet reported usage
        self._priorities: Counter = Counter()           # priority -> counted pods
        self._affinity_nodes: set[str] = set()          # nodes holding pods with required (anti-)affinity
        self._nominated: dict[str, dict[str, PodInfo]] = {}  # node -> uid -> pod nominated to it
        self._nomination: dict[str, str] = {}                # uid -> node

    # ---------------------------------------------------------------- reads
    @property
    def num_nodes(self) -> int:
        return self._ready_nodes

    def node_infos(self):
        """Every NodeInfo that has a Node (pods may name nodes the cache has not seen yet)."""
        return (ni for ni in self.nodes.values() if ni.node is not None)

    def affinity_pods(self):
        """(NodeInfo, PodInfo) for every counted pod with required pod (anti-)affinity terms."""
        for name in self._affinity_nodes:
            ni = self.nodes[name]
            for pi in ni.affinity_pods.values():
                yield ni, pi

    def lowest_priority(self) -> int | None:
        """The lowest priority of any counted pod (preemption has no victims below it), or None."""
        return min(self._priorities) if self._priorities else None

    def changed_since(self, seq: int) -> list[str] | None:
        """Names of the nodes changed after `seq` (repeats possible), or None when the log no longer
        reaches back that far."""
        if seq < self._log_start:
            return None
        return self._log[seq - self._log_start:]

    def is_assumed(self, uid: str) -> bool:
        st = self._pods.get(uid)
        return st is not None and st.assumed

    def pod_info(self, uid: str) -> PodInfo | None:
        st = self._pods.get(uid)
        return st.info if st else None

    def pod_node(self, uid: str) -> str | None:
        st = self._pods.get(uid)
        return st.node if st else None

    def nominated_pods(self, node: str):
        return self._nominated.get(node, {}).values()

    @property
    def has_nominations(self) -> bool:
        return bool(self._nomination)

    def nominated_node(self, uid: str) -> str:
        return self._nomination.get(uid, "")

    # ---------------------------------------------------------------- nodes
    def set_node(self, node) -> None:
        name = node.metadata.name
        ni = self.nodes.get(name)
        if ni is None:
            ni = self.nodes[name] = NodeInfo(name)
        before = self._tallies(ni)
        view = (ni.node is not None, ni.labels, ni.unschedulable, ni.taints, ni.prefer_taints, ni.allocatable,
                ni.allowed_pods)
        ni.set_node(node)
        self._retally(ni, before)
        if view != (True, ni.labels, ni.unschedulable, ni.taints, ni.prefer_taints, ni.allocatable,
                    ni.allowed_pods):
            self._touch(ni)         # a heartbeat changes nothing the plugins read

    def remove_node(self, name: str) -> None:
        ni = self.nodes.get(name)
        if ni is None:
            return
        before = self._tallies(ni)
        ni.node = None
        ni.usage = None
        self._retally(ni, before)
        if not ni.pods:
            del self.nodes[name]
        self._log_change(name)

    def set_usage(self, name: str, usage: tuple[int, int] | None) -> None:
        ni = self.nodes.get(name)
        if ni is None or ni.usage == usage:
            return
        before = self._tallies(ni)
        ni.usage = usage
        self._retally(ni, before)
        self._touch(ni)

    # ---------------------------------------------------------------- pods
    def add_pod(self, pi: PodInfo) -> None:
        """A pod bound to `pi.node_name` in the API (informer add or update)."""
        st = self._pods.get(pi.uid)
        if st is not None:
            if st.node == pi.node_name and st.info.fingerprint == pi.fingerprint:
                st.info, st.assumed = pi, False          # the bind we assumed landed: nothing moves
                self.nodes[st.node].pods[pi.uid] = pi
                if pi.uid in self.nodes[st.node].affinity_pods:
                    self.nodes[st.node].affinity_pods[pi.uid] = pi
                return
            self._remove(st)
        self._add(_PodState(pi, pi.node_name, False))
        self.clear_nomination(pi.uid)

    def remove_pod(self, uid: str) -> None:
        st = self._pods.get(uid)
        if st is not None:
            self._remove(st)
        self.clear_nomination(uid)

    def assume(self, pi: PodInfo, node: str) -> None:
        """Count `pi` on `node` before its bind lands."""
        st = self._pods.get(pi.uid)
        if st is not None:
            self._remove(st)
        self._add(_PodState(pi, node, True))
        self.clear_nomination(pi.uid)

    def forget(self, uid: str) -> None:
        """Undo `assume` (the bind failed). A pod the informer has since seen bound stays."""
        st = self._pods.get(uid)
        if st is not None and st.assumed:
            self._remove(st)

    def nominate(self, pi: PodInfo, node: str) -> None:
        """Hold room on `node` for a preemptor until it is scheduled (pods of lower priority see it)."""
        self.clear_nomination(pi.uid)
        if not node:
            return
        self._nominated.setdefault(node, {})[pi.uid] = pi
        self._nomination[pi.uid] = node
        if node in self.nodes:
            self._touch(self.nodes[node])

    def clear_nomination(self, uid: str) -> None:
        node = self._nomination.pop(uid, None)
        if node is None:
            return
        pods = self._nominated.get(node)
        if pods is not None:
            pods.pop(uid, None)
            if not pods:
                del self._nominated[node]
        if node in self.nodes:
            self._touch(self.nodes[node])

    # ---------------------------------------------------------------- internals
    def _add(self, st: _PodState) -> None:
        ni = self.nodes.get(st.node)
        if ni is None:
            ni = self.nodes[st.node] = NodeInfo(st.node)
        ni.add_pod(st.info)
        self._pods[st.info.uid] = st
        self._priorities[st.info.priority] += 1
        if ni.affinity_pods:
            self._affinity_nodes.add(ni.name)
        self._touch(ni)

    def _remove(self, st: _PodState) -> None:
        del self._pods[st.info.uid]
        self._priorities[st.info.priority] -= 1
        if not self._priorities[st.info.priority]:
            del self._priorities[st.info.priority]
        ni = self.nodes.get(st.node)
        if ni is None:
            return
        ni.remove_pod(st.info)
        if not ni.affinity_pods:
            self._affinity_nodes.discard(ni.name)
        if ni.node is None and not ni.pods:
            del self.nodes[ni.name]
            self._log_change(ni.name)
        else:
            self._touch(ni)

    @staticmethod
    def _tallies(ni: NodeInfo) -> tuple[int, int, int]:
        return (ni.node is not None, bool(ni.prefer_taints) and ni.node is not None,
                ni.usage is not None and ni.node is not None)

    def _retally(self, ni: NodeInfo, before: tuple[int, int, int]) -> None:
        after = self._tallies(ni)
        self._ready_nodes += after[0] - before[0]
        self.prefer_taint_nodes += after[1] - before[1]
        self.usage_nodes += after[2] - before[2]

    def _touch(self, ni: NodeInfo) -> None:
        self._log_change(ni.name)
        ni.generation = self.seq

    def _log_change(self, name: str) -> None:
        self.seq += 1
        self._log.append(name)
        if len(self._log) > LOG_LIMIT:
            drop = LOG_LIMIT // 2
            del self._log[:drop]
            self._log_start += drop
