"""Output for `minictl get`: kubectl's tables (the same columns and cell rules as kubectl's printers,
laid out by a port of Go's text/tabwriter), ages in kubectl's HumanDuration, and the -o formats
json, yaml, name, jsonpath and custom-columns.

Table rows are computed from the protobuf messages directly; only -o json/yaml/jsonpath convert to
the Kubernetes JSON form."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any, Callable

from minik8s.api import kinds
from minik8s.api.kinds import KindInfo

# kubectl's printers.GetNewTabWriter: minwidth 6, tabwidth 4, padding 3, pad with spaces
TABLE_MINWIDTH, TABLE_PADDING = 6, 3


# ---------------------------------------------------------------- Go text/tabwriter
def tabwrite(lines: list[str], minwidth: int = TABLE_MINWIDTH, padding: int = TABLE_PADDING) -> str:
    """Align tab-separated cells as Go's text/tabwriter does (flags 0, space padding): a column
    runs over consecutive lines that have a cell there; the last cell of a line is not aligned."""
    cells = [line.split("\t") for line in lines]
    out: list[str] = []
    widths: list[int] = []

    def write(a: int, b: int) -> None:
        n = len(widths)
        for i in range(a, b):
            row = cells[i]
            parts = []
            for j, c in enumerate(row):
                parts.append(c.ljust(widths[j]) if j < n and j < len(row) - 1 else c)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(cells[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(cells[this]) - 1:
                width = max(width, len(cells[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(cells))
    return "\n".join(out)


# ---------------------------------------------------------------- time
def parse_time(s: str) -> float:
    if not s:
        return 0.0
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(ts: str, now: float | None = None) -> str:
    """kubectl's translateTimestampSince: `<unknown>` for no time."""
    if not ts:
        return "<unknown>"
    t = parse_time(ts)
    if not t:
        return "<unknown>"
    return human_duration((now if now is not None else time.time()) - t)


# ---------------------------------------------------------------- cell helpers
def format_labels(labels) -> str:
    """labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def format_selector(sel) -> str:
    """metav1.LabelSelectorAsSelector(sel).String() for a LabelSelector message."""
    from minik8s.api.selectors import from_label_selector_obj
    try:
        text = str(from_label_selector_obj(sel))
    except Exception:
        return "<invalid>"
    return text or "<none>"


def int_or_string(v) -> str:
    from minik8s.api.codec import int_or_string as ios
    x = ios(v)
    return "" if x is None else str(x)


# ---------------------------------------------------------------- tables per kind
# kind record -> (columns, columns with -o wide, row function(obj, now, wide) -> cells)
TABLES: dict[KindInfo, tuple[list[str], list[str], Callable]] = {}


def columns(info: KindInfo, header: list[str], extra: list[str] | tuple = (), wide: list[str] | None = None):
    """Register the decorated row function as `info`'s table: `header`, plus `extra` with -o wide
    (or `wide` instead, for a kind whose wide table is laid out differently)."""
    def register(row: Callable) -> Callable:
        TABLES[info] = (list(header), list(wide) if wide is not None else [*header, *extra], row)
        return row
    return register


def _containers_cells(spec) -> list[str]:
    return [",".join(c.name for c in spec.containers), ",".join(c.image for c in spec.containers)]


def _cond_true(conditions, type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in conditions)


# ---------------------------------------------------------------- per-kind rows
def pod_status(pod, now: float | None = None) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) exactly as kubectl's printPod computes them."""
    spec, status = pod.spec, pod.status
    restarts = 0
    restartable_restarts = 0
    total = len(spec.containers)
    ready = 0
    last_restart = 0.0
    last_restartable_restart = 0.0
    phase = status.phase
    reason = status.reason or phase
    for c in status.conditions:
        if c.type == "PodScheduled" and c.reason == "SchedulingGated":
            reason = "SchedulingGated"
    init_restartable = {}
    for c in spec.initContainers:
        always = c.HasField("restartPolicy") and c.restartPolicy == "Always"
        init_restartable[c.name] = always
        if always:
            total += 1
    initializing = False
    n_init = len(spec.initContainers)
    for i, cs in enumerate(status.initContainerStatuses):
        restarts += cs.restartCount
        if cs.lastState.HasField("terminated"):
            last_restart = max(last_restart, parse_time(cs.lastState.terminated.finishedAt))
        restartable = init_restartable.get(cs.name, False)
        if restartable:
            restartable_restarts += cs.restartCount
            if cs.lastState.HasField("terminated"):
                last_restartable_restart = max(last_restartable_restart,
                                               parse_time(cs.lastState.terminated.finishedAt))
        st = cs.state
        if st.HasField("terminated") and st.terminated.exitCode == 0:
            continue
        if restartable and cs.HasField("started") and cs.started:
            if cs.ready:
                ready += 1
            continue
        if st.HasField("terminated"):
            t = st.terminated
            if not t.reason:
                reason = f"Init:Signal:{t.signal}" if t.signal else f"Init:ExitCode:{t.exitCode}"
            else:
                reason = "Init:" + t.reason
        elif st.HasField("waiting") and st.waiting.reason and st.waiting.reason != "PodInitializing":
            reason = "Init:" + st.waiting.reason
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing or _cond_true(status.conditions, "Initialized"):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(status.containerStatuses):
            restarts += cs.restartCount
            if cs.lastState.HasField("terminated"):
                last_restart = max(last_restart, parse_time(cs.lastState.terminated.finishedAt))
            st = cs.state
            if st.HasField("waiting") and st.waiting.reason:
                reason = st.waiting.reason
            elif st.HasField("terminated") and st.terminated.reason:
                reason = st.terminated.reason
            elif st.HasField("terminated"):
                t = st.terminated
                reason = f"Signal:{t.signal}" if t.signal else f"ExitCode:{t.exitCode}"
            elif cs.ready and st.HasField("running"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _cond_true(status.conditions, "Ready") else "NotReady"
    if pod.metadata.deletionTimestamp and status.reason == "NodeLost":
        reason = "Unknown"
    elif pod.metadata.deletionTimestamp and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_s = str(restarts)
    if restarts and last_restart:
        restarts_s = f"{restarts} ({human_duration((now or time.time()) - last_restart)} ago)"
    return f"{ready}/{total}", reason, restarts_s


@columns(kinds.POD, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
         ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"])
def _pod_row(o, now, wide):
    ready, reason, restarts = pod_status(o, now)
    row = [o.metadata.name, ready, reason, restarts, since(o.metadata.creationTimestamp, now)]
    if wide:
        ip = o.status.podIPs[0].ip if o.status.podIPs else (o.status.podIP or "")
        gates = "<none>"
        if o.spec.readinessGates:
            conds = {c.type: c.status for c in o.status.conditions}
            true = sum(1 for g in o.spec.readinessGates if conds.get(g.conditionType) == "True")
            gates = f"{true}/{len(o.spec.readinessGates)}"
        row += [ip or "<none>", o.spec.nodeName or "<none>", o.status.nominatedNodeName or "<none>", gates]
    return row


def _replicas(spec) -> int:
    return spec.replicas if spec.HasField("replicas") else 0


@columns(kinds.DEPLOYMENT, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
         ["CONTAINERS", "IMAGES", "SELECTOR"])
def _deployment_row(o, now, wide):
    row = [o.metadata.name, f"{o.status.readyReplicas}/{_replicas(o.spec)}", str(o.status.updatedReplicas),
           str(o.status.availableReplicas), since(o.metadata.creationTimestamp, now)]
    if wide:
        row += _containers_cells(o.spec.template.spec) + [format_selector(o.spec.selector)]
    return row


@columns(kinds.REPLICA_SET, ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
         ["CONTAINERS", "IMAGES", "SELECTOR"])
def _replicaset_row(o, now, wide):
    row = [o.metadata.name, str(_replicas(o.spec)), str(o.status.replicas), str(o.status.readyReplicas),
           since(o.metadata.creationTimestamp, now)]
    if wide:
        row += _containers_cells(o.spec.template.spec) + [format_selector(o.spec.selector)]
    return row


def _job_status(o) -> str:
    conds = o.status.conditions
    if _cond_true(conds, "Complete"):
        return "Complete"
    if _cond_true(conds, "Failed"):
        return "Failed"
    if o.metadata.deletionTimestamp:
        return "Terminating"
    for t in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _cond_true(conds, t):
            return t
    return "Running"


@columns(kinds.JOB, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"])
def _job_row(o, now, wide):
    spec, st = o.spec, o.status
    if spec.HasField("completions"):
        completions = f"{st.succeeded}/{spec.completions}"
    elif spec.HasField("parallelism") and spec.parallelism > 1:
        completions = f"{st.succeeded}/1 of {spec.parallelism}"
    else:
        completions = f"{st.succeeded}/1"
    duration = ""
    if st.startTime:
        end = parse_time(st.completionTime) if st.completionTime else (now or time.time())
        duration = human_duration(end - parse_time(st.startTime))
    row = [o.metadata.name, _job_status(o), completions, duration, since(o.metadata.creationTimestamp, now)]
    if wide:
        row += _containers_cells(spec.template.spec) + [format_selector(spec.selector)]
    return row


@columns(kinds.CRONJOB, ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
         ["CONTAINERS", "IMAGES", "SELECTOR"])
def _cronjob_row(o, now, wide):
    spec, st = o.spec, o.status
    last = since(st.lastScheduleTime, now) if st.lastScheduleTime else "<none>"
    row = [o.metadata.name, spec.schedule, spec.timeZone if spec.HasField("timeZone") else "<none>",
           str(spec.suspend) if spec.HasField("suspend") else "<unset>", str(len(st.active)), last,
           since(o.metadata.creationTimestamp, now)]
    if wide:
        tpl = spec.jobTemplate.spec
        row += _containers_cells(tpl.template.spec) + [format_selector(tpl.selector) if tpl.HasField("selector")
                                                       else "<none>"]
    return row


def _service_external_ip(o) -> str:
    spec = o.spec
    t = spec.type
    if t in ("ClusterIP", "NodePort", ""):
        return ",".join(spec.externalIPs) if spec.externalIPs else "<none>"
    if t == "LoadBalancer":
        lb = ",".join(i.ip or i.hostname for i in o.status.loadBalancer.ingress if i.ip or i.hostname)
        ips = ([lb] if lb else []) + list(spec.externalIPs)
        return ",".join(ips) if ips else "<pending>"
    if t == "ExternalName":
        return spec.externalName
    return "<unknown>"


def _ports(ports) -> str:
    out = []
    for p in ports:
        out.append(f"{p.port}:{p.nodePort}/{p.protocol}" if p.nodePort > 0 else f"{p.port}/{p.protocol}")
    return ",".join(out)


@columns(kinds.SERVICE, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"])
def _service_row(o, now, wide):
    ip = o.spec.clusterIPs[0] if o.spec.clusterIPs else (o.spec.clusterIP or "<none>")
    row = [o.metadata.name, o.spec.type, ip, _service_external_ip(o), _ports(o.spec.ports) or "<none>",
           since(o.metadata.creationTimestamp, now)]
    if wide:
        row.append(format_labels(o.spec.selector))
    return row


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


@columns(kinds.NODE, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
         ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"])
def _node_row(o, now, wide):
    row = [o.metadata.name, node_status(o), node_roles(o), since(o.metadata.creationTimestamp, now),
           o.status.nodeInfo.kubeletVersion]
    if wide:
        addr = {}
        for a in o.status.addresses:
            addr.setdefault(a.type, a.address)
        info = o.status.nodeInfo
        row += [addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"),
                info.osImage or "<unknown>", info.kernelVersion or "<unknown>",
                info.containerRuntimeVersion or "<unknown>"]
    return row


@columns(kinds.NAMESPACE, ["NAME", "STATUS", "AGE"])
def _namespace_row(o, now, wide):
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


@columns(kinds.EVENT, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
         wide=["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT",
               "NAME"])
def _event_row(o, now, wide):
    first, last, count = event_times(o, now)
    io = o.involvedObject
    target = f"{io.kind.lower()}/{io.name}" if io.name else io.kind.lower()
    if wide:
        comp = o.source.component or o.reportingComponent
        host = o.source.host or o.reportingInstance
        source = f"{comp}, {host}" if host else comp
        return [last, o.type, o.reason, target, io.fieldPath, source, o.message.strip(), first, str(count),
                o.metadata.name]
    return [last, o.type, o.reason, target, o.message.strip()]


def format_endpoints(o) -> str:
    if not o.subsets:
        return "<none>"
    items, count, more, limit = [], 0, False, 3
    for ss in o.subsets:
        if not ss.ports:
            count += len(ss.addresses)
            for a in ss.addresses:
                if len(items) == limit:
                    more = True
                    break
                items.append(a.ip)
            continue
        for p in ss.ports:
            count += len(ss.addresses)
            for a in ss.addresses:
                if len(items) == limit:
                    more = True
                    break
                host = f"[{a.ip}]" if ":" in a.ip else a.ip
                items.append(f"{host}:{p.port}")
    text = ",".join(items)
    return f"{text} + {count - limit} more..." if more else text


@columns(kinds.ENDPOINTS, ["NAME", "ENDPOINTS", "AGE"])
def _endpoints_row(o, now, wide):
    return [o.metadata.name, format_endpoints(o), since(o.metadata.creationTimestamp, now)]


@columns(kinds.LEASE, ["NAME", "HOLDER", "AGE"])
def _lease_row(o, now, wide):
    return [o.metadata.name, o.spec.holderIdentity if o.spec.HasField("holderIdentity") else "",
            since(o.metadata.creationTimestamp, now)]


def _hpa_metrics(o) -> str:
    specs, statuses = o.spec.metrics, o.status.currentMetrics
    if not specs:
        return "<none>"
    out = []
    for i, m in enumerate(specs):
        st = statuses[i] if len(statuses) > i else None
        if m.type == "External":
            t = m.external.target
            if t.averageValue:
                cur = st.external.current.averageValue if st and st.HasField("external") and \
                    st.external.current.averageValue else "<unknown>"
                out.append(f"{cur}/{t.averageValue} (avg)")
            else:
                cur = st.external.current.value if st and st.HasField("external") else "<unknown>"
                out.append(f"{cur or '0'}/{t.value or '0'}")
        elif m.type == "Pods":
            cur = st.pods.current.averageValue if st and st.HasField("pods") else "<unknown>"
            out.append(f"{cur or '0'}/{m.pods.target.averageValue or '0'}")
        elif m.type == "Object":
            t = m.object.target
            if t.averageValue:
                cur = st.object.current.averageValue if st and st.HasField("object") and \
                    st.object.current.averageValue else "<unknown>"
                out.append(f"{cur}/{t.averageValue} (avg)")
            else:
                cur = st.object.current.value if st and st.HasField("object") else "<unknown>"
                out.append(f"{cur or '0'}/{t.value or '0'}")
        elif m.type in ("Resource", "ContainerResource"):
            src = m.resource if m.type == "Resource" else m.containerResource
            field = "resource" if m.type == "Resource" else "containerResource"
            cur_src = getattr(st, field) if st is not None and st.HasField(field) else None
            t = src.target
            if t.averageValue:
                cur = (cur_src.current.averageValue or "0") if cur_src is not None else "<unknown>"
                out.append(f"{src.name}: {cur}/{t.averageValue}")
            else:
                cur = "<unknown>"
                if cur_src is not None and cur_src.current.HasField("averageUtilization"):
                    cur = f"{cur_src.current.averageUtilization}%"
                target = f"{t.averageUtilization}%" if t.HasField("averageUtilization") else "<auto>"
                out.append(f"{src.name}: {cur}/{target}")
        else:
            out.append("<unknown type>")
    if len(out) > 2:
        return ", ".join(out[:2]) + f" + {len(out) - 2} more..."
    return ", ".join(out)


@columns(kinds.HORIZONTAL_POD_AUTOSCALER, ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"])
def _hpa_row(o, now, wide):
    ref = o.spec.scaleTargetRef
    return [o.metadata.name, f"{ref.kind}/{ref.name}", _hpa_metrics(o),
            str(o.spec.minReplicas) if o.spec.HasField("minReplicas") else "<unset>",
            str(o.spec.maxReplicas), str(o.status.currentReplicas), since(o.metadata.creationTimestamp, now)]


@columns(kinds.POD_DISRUPTION_BUDGET, ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"])
def _pdb_row(o, now, wide):
    mn = int_or_string(o.spec.minAvailable) if o.spec.HasField("minAvailable") else "N/A"
    mx = int_or_string(o.spec.maxUnavailable) if o.spec.HasField("maxUnavailable") else "N/A"
    return [o.metadata.name, mn, mx, str(o.status.disruptionsAllowed), since(o.metadata.creationTimestamp, now)]


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                 "ReadWriteOncePod": "RWOP"}


@columns(kinds.PERSISTENT_VOLUME_CLAIM, ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"],
         ["VOLUMEMODE"])
def _pvc_row(o, now, wide):
    phase = "Terminating" if o.metadata.deletionTimestamp else o.status.phase
    capacity = modes = ""
    if o.spec.volumeName:
        modes = ",".join(_ACCESS_MODES.get(m, m) for m in o.status.accessModes)
        capacity = o.status.capacity.get("storage", "")
    cls = o.metadata.annotations.get("volume.beta.kubernetes.io/storage-class") or \
        (o.spec.storageClassName if o.spec.HasField("storageClassName") else "")
    row = [o.metadata.name, phase, o.spec.volumeName, capacity, modes, cls,
           since(o.metadata.creationTimestamp, now)]
    if wide:
        row.append(o.spec.volumeMode if o.spec.HasField("volumeMode") else "<unset>")
    return row


@columns(kinds.PERSISTENT_VOLUME, ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM",
                                   "STORAGECLASS", "REASON", "AGE"], ["VOLUMEMODE"])
def _pv_row(o, now, wide):
    phase = "Terminating" if o.metadata.deletionTimestamp else o.status.phase
    ref = o.spec.claimRef
    claim = f"{ref.namespace}/{ref.name}" if ref.name else ""
    row = [o.metadata.name, o.spec.capacity.get("storage", ""),
           ",".join(_ACCESS_MODES.get(m, m) for m in o.spec.accessModes), o.spec.persistentVolumeReclaimPolicy,
           phase, claim, o.spec.storageClassName, o.status.reason, since(o.metadata.creationTimestamp, now)]
    if wide:
        row.append(o.spec.volumeMode if o.spec.HasField("volumeMode") else "<unset>")
    return row


@columns(kinds.STORAGE_CLASS, ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION",
                               "AGE"])
def _storageclass_row(o, now, wide):
    default = o.metadata.annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
    return [o.metadata.name + (" (default)" if default else ""), o.provisioner, o.reclaimPolicy or "Delete",
            o.volumeBindingMode or "Immediate", "true" if o.allowVolumeExpansion else "false",
            since(o.metadata.creationTimestamp, now)]


@columns(kinds.STATEFUL_SET, ["NAME", "READY", "AGE"], ["CONTAINERS", "IMAGES"])
def _statefulset_row(o, now, wide):
    row = [o.metadata.name, f"{o.status.readyReplicas}/{_replicas(o.spec)}", since(o.metadata.creationTimestamp, now)]
    if wide:
        row += _containers_cells(o.spec.template.spec)
    return row


@columns(kinds.DAEMON_SET, ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR",
                            "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"])
def _daemonset_row(o, now, wide):
    st = o.status
    row = [o.metadata.name, str(st.desiredNumberScheduled), str(st.currentNumberScheduled), str(st.numberReady),
           str(st.updatedNumberScheduled), str(st.numberAvailable), format_labels(o.spec.template.spec.nodeSelector),
           since(o.metadata.creationTimestamp, now)]
    if wide:
        row += _containers_cells(o.spec.template.spec) + [format_selector(o.spec.selector)]
    return row


@columns(kinds.CONFIG_MAP, ["NAME", "DATA", "AGE"])
def _configmap_row(o, now, wide):
    return [o.metadata.name, str(len(o.data) + len(o.binaryData)), since(o.metadata.creationTimestamp, now)]


@columns(kinds.SECRET, ["NAME", "TYPE", "DATA", "AGE"])
def _secret_row(o, now, wide):
    return [o.metadata.name, o.type, str(len(o.data)), since(o.metadata.creationTimestamp, now)]


@columns(kinds.ROLE, ["NAME", "CREATED AT"])
@columns(kinds.CLUSTER_ROLE, ["NAME", "CREATED AT"])
def _role_row(o, now, wide):
    return [o.metadata.name, o.metadata.creationTimestamp]


@columns(kinds.ROLE_BINDING, ["NAME", "ROLE", "AGE"], ["USERS", "GROUPS", "SERVICEACCOUNTS"])
@columns(kinds.CLUSTER_ROLE_BINDING, ["NAME", "ROLE", "AGE"], ["USERS", "GROUPS", "SERVICEACCOUNTS"])
def _role_binding_row(o, now, wide):
    row = [o.metadata.name, f"{o.roleRef.kind}/{o.roleRef.name}", since(o.metadata.creationTimestamp, now)]
    if wide:
        row += [", ".join(s.name for s in o.subjects if s.kind == "User"),
                ", ".join(s.name for s in o.subjects if s.kind == "Group"),
                ", ".join(f"{s.namespace}/{s.name}" for s in o.subjects if s.kind == "ServiceAccount")]
    return row


@columns(kinds.NODE_METRICS, ["NAME", "CPU", "MEMORY", "WINDOW"])
@columns(kinds.POD_METRICS, ["NAME", "CPU", "MEMORY", "WINDOW"])
def _metrics_row(o, now, wide):
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


def _generic_row(o, now, wide):
    return [o.metadata.name, since(o.metadata.creationTimestamp, now)]


class Table:
    """Header and rows for one kind, with kubectl's optional columns."""

    def __init__(self, info, wide: bool = False, namespace_column: bool = False, show_labels: bool = False,
                 with_kind: bool = False, label_columns: list[str] | None = None):
        self.info = info
        narrow, wide_columns, self.fn = TABLES.get(info, (["NAME", "AGE"], ["NAME", "AGE"], _generic_row))
        columns = wide_columns if wide else narrow
        self.wide = wide
        self.namespace_column = namespace_column
        self.show_labels = show_labels
        self.with_kind = with_kind
        self.label_columns = label_columns or []
        self.header = (["NAMESPACE"] if namespace_column else []) + list(columns) + \
            [c.rsplit("/", 1)[-1].upper() for c in self.label_columns] + (["LABELS"] if show_labels else [])
        self.name_index = columns.index("NAME") if "NAME" in columns else None

    def row(self, obj, now: float | None = None) -> list[str]:
        cells = self.fn(obj, now, self.wide)
        if self.with_kind and self.name_index is not None:
            cells[self.name_index] = f"{self.info.resource}/{cells[self.name_index]}"
        if self.namespace_column:
            cells.insert(0, obj.metadata.namespace)
        labels = obj.metadata.labels
        for key in self.label_columns:
            cells.append(labels.get(key, ""))
        if self.show_labels:
            cells.append(format_labels(labels))
        return cells


def render_table(header: list[str] | None, rows: list[list[str]]) -> str:
    lines = ["\t".join(header)] if header else []
    lines.extend("\t".join(r) for r in rows)
    return tabwrite(lines)


# ---------------------------------------------------------------- -o formats
def to_json_obj(obj, info=None) -> dict:
    from minik8s.api.codec import to_dict
    d = to_dict(obj)
    if info is not None:
        d.setdefault("apiVersion", info.api_version)
        d.setdefault("kind", info.kind)
    return d


def list_doc(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def dump_json(doc: Any) -> str:
    return json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False)


_DUMPER = None


def dump_yaml(doc: Any) -> str:
    """YAML as kubectl prints it: keys sorted, block style, multi-line strings as `|` blocks."""
    global _DUMPER
    import yaml
    if _DUMPER is None:
        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

        class _Dumper(base):  # type: ignore[misc, valid-type]
            pass

        def _str(dumper, data):
            if "\n" in data:
                return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
            if data and dumper.resolve(yaml.ScalarNode, data, (True, False)) != "tag:yaml.org,2002:str":
                # a string that would read back as a number, bool or time: double quotes, as go-yaml
                return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
            return dumper.represent_scalar("tag:yaml.org,2002:str", data)

        _Dumper.add_representer(str, _str)
        _DUMPER = _Dumper
    return yaml.dump(doc, Dumper=_DUMPER, default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=1 << 30)


def resource_name(info, obj) -> str:
    """`-o name`: `pod/web-1`, `deployment.apps/web`."""
    return f"{info.resource}/{obj.metadata.name}"


def parse_output(spec: str | None) -> tuple[str, str]:
    """Split `-o` into (format, argument): `jsonpath={.a}` -> ("jsonpath", "{.a}")."""
    if not spec:
        return "", ""
    fmt, _, arg = spec.partition("=")
    return fmt, arg


OUTPUT_FORMATS = ("json", "yaml", "name", "wide", "jsonpath", "jsonpath-as-json", "custom-columns",
                  "go-template")


def check_output(spec: str | None) -> None:
    fmt, arg = parse_output(spec)
    if fmt and fmt not in OUTPUT_FORMATS[:-1]:
        allowed = "json, yaml, name, wide, jsonpath, jsonpath-as-json, custom-columns"
        raise ValueError(f'unable to match a printer suitable for the output format "{spec}", '
                         f"allowed formats are: {allowed}")
    if fmt in ("jsonpath", "jsonpath-as-json", "custom-columns") and not arg:
        raise ValueError(f"{fmt} template format specified but no template given")


def custom_columns(spec: str, docs: list[dict], no_headers: bool = False) -> str:
    from minik8s.cli import jsonpath
    cols = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep:
            raise ValueError(f'unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>')
        cols.append((header, jsonpath.compile(jsonpath.relaxed(path))))
    rows = []
    for d in docs:
        row = []
        for _, tpl in cols:
            vals = tpl.find(d)
            row.append(",".join(jsonpath.format_value(v) for v in vals) if vals else "<none>")
        rows.append(row)
    return render_table(None if no_headers else [h for h, _ in cols], rows)


def write(text: str, stream=None) -> None:
    stream = stream or sys.stdout
    stream.write(text)
    if text and not text.endswith("\n"):
        stream.write("\n")
