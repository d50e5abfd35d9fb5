"""Rows of the cluster's own kinds as kubectl prints them: Nodes (readiness, roles, and with -o wide
addresses and versions), Namespaces, Events, Leases, and the metrics API's usage reports."""
from __future__ import annotations

from minik8s.api import kinds

from minik8s.api.printing.cells import since
from minik8s.api.printing.columns import Column, columns


def node_status(o) -> str:
    status = []
    for c in o.status.conditions:
        if c.type == "Ready":
            status = ["Ready" if c.status == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if o.spec.unschedulable:
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(o) -> str:
    roles = set()
    for k, v in o.metadata.labels.items():
        if k.startswith("node-role.kubernetes.io/") and k[len("node-role.kubernetes.io/"):]:
            roles.add(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(roles)) or "<none>"


@columns(kinds.NODE, "Name", "Status", "Roles", "Age", "Version",
         wide=("Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"))
def _node_row(o, now):
    addr = {}
    for a in o.status.addresses:
        addr.setdefault(a.type, a.address)
    info = o.status.nodeInfo
    return [o.metadata.name, node_status(o), node_roles(o), since(o.metadata.creationTimestamp, now),
            info.kubeletVersion, addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"),
            info.osImage or "<unknown>", info.kernelVersion or "<unknown>", info.containerRuntimeVersion or "<unknown>"]


@columns(kinds.NAMESPACE, "Name", "Status", "Age")
def _namespace_row(o, now):
    return [o.metadata.name, o.status.phase, since(o.metadata.creationTimestamp, now)]


def event_times(o, now) -> tuple[str, str, int]:
    """(first seen, last seen, count) as kubectl's printEvent computes them."""
    first = since(o.firstTimestamp, now) if o.firstTimestamp else since(o.eventTime, now)
    last = since(o.lastTimestamp, now) if o.lastTimestamp else first
    count = o.count
    if o.HasField("series"):
        last = since(o.series.lastObservedTime, now)
        count = o.series.count
    elif count == 0:
        count = 1
    return first, last, count


@columns(kinds.EVENT, "Last Seen", "Type", "Reason", "Object", Column("Subobject", 1), Column("Source", 1),
         "Message", Column("First Seen", 1), Column("Count", 1), Column("Name", 1, format="name"))
def _event_row(o, now):
    first, last, count = event_times(o, now)
    io = o.involvedObject
    target = f"{io.kind.lower()}/{io.name}" if io.name else io.kind.lower()
    comp = o.source.component or o.reportingComponent
    host = o.source.host or o.reportingInstance
    source = f"{comp}, {host}" if host else comp
    return [last, o.type, o.reason, target, io.fieldPath, source, o.message.strip(), first, str(count),
            o.metadata.name]


@columns(kinds.LEASE, "Name", "Holder", "Age")
def _lease_row(o, now):
    return [o.metadata.name, o.spec.holderIdentity if o.spec.HasField("holderIdentity") else "",
            since(o.metadata.creationTimestamp, now)]


@columns(kinds.NODE_METRICS, "Name", "CPU", "Memory", "Window")
@columns(kinds.POD_METRICS, "Name", "CPU", "Memory", "Window")
def _metrics_row(o, now):
    from minik8s.api.quantity import bytes_value, cpu_millis
    cpu = mem = 0
    usages = [o.usage] if hasattr(o, "usage") else [c.usage for c in o.containers]
    try:
        for u in usages:
            cpu += cpu_millis(u.get("cpu", "0"))
            mem += bytes_value(u.get("memory", "0"))
    except Exception:
        pass
    return [o.metadata.name, f"{cpu}m", f"{mem // (1024 * 1024)}Mi", o.window]
