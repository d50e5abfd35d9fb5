"""NodePorts: a pod that asks for a host port fits only a node where no pod holds that port for the
same protocol on an overlapping address (0.0.0.0 overlaps every address)."""
from __future__ import annotations

from minik8s.scheduler.framework import SKIP, unschedulable

NAME = "NodePorts"
REJECTED = unschedulable(NAME, "node(s) didn't have free ports for the requested pod ports")
ANY_IP = "0.0.0.0"


def conflicts(wanted: tuple[str, str, int], used) -> bool:
    proto, ip, port = wanted
    if ip == ANY_IP:
        return any(u[0] == proto and u[2] == port for u in used)
    return (proto, ip, port) in used or (proto, ANY_IP, port) in used


class NodePorts:
    name = NAME
    node_local = True
    events = frozenset({"NodeAdd", "PodDelete"})

    def __init__(self, args: dict, handle=None):
        pass

    def pre_filter(self, state, pod, snapshot):
        return None if pod.host_ports else SKIP

    def filter(self, state, pod, node):
        used = node.ports
        if used and any(conflicts(p, used) for p in pod.host_ports):
            return REJECTED
        return None
