"""NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate the
node.kubernetes.io/unschedulable:NoSchedule taint (DaemonSet pods do)."""
from __future__ import annotations

from minik8s.api.nodefit import NO_SCHEDULE, NODE_UNSCHEDULABLE, TAINT_UNSCHEDULABLE, tolerates
from minik8s.scheduler.framework import SKIP, unschedulable

NAME = "NodeUnschedulable"
REJECTED = unschedulable(NAME, NODE_UNSCHEDULABLE, resolvable=False)
_TAINT = (TAINT_UNSCHEDULABLE, "", NO_SCHEDULE)


class NodeUnschedulable:
    name = NAME
    node_local = True
    events = frozenset({"NodeAdd", "NodeUpdate"})

    def __init__(self, args: dict, handle=None):
        pass

    def pre_filter(self, state, pod, snapshot):
        if any(tolerates(t, _TAINT) for t in pod.tolerations):
            return SKIP
        return None

    def filter(self, state, pod, node):
        return REJECTED if node.unschedulable else None
