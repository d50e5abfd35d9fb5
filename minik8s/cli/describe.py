"""`minictl describe`: kubectl's describers for the core kinds (Pod, Deployment, ReplicaSet, Service,
Node, Namespace, Job, CronJob, HorizontalPodAutoscaler, ConfigMap, Secret) and a generic one for the rest, each ending with the
object's Events table.

Output goes through the same Go-tabwriter port as the tables, with describe's settings (padding 2),
so the `Key:  value` columns line up the way kubectl's do."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

from minik8s.api import kinds
from minik8s.api.kinds import KindInfo
from minik8s.cli.printers import (format_labels, format_selector, int_or_string, parse_time, since,
                                  tabwrite)

SKIP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", "scheduler.minik8s.io/decision"}
MAX_ANNOTATION_LEN = 140


class Writer:
    """kubectl's PrefixWriter: lines at indent levels (two spaces each), tab-separated cells."""

    def __init__(self):
        self.lines: list[str] = []

    def w(self, level: int, text: str) -> None:
        prefix = "  " * level
        for line in text.split("\n"):
            self.lines.append(prefix + line)

    def render(self) -> str:
        return tabwrite(self.lines, minwidth=0, padding=2) + "\n"


def fmt_time(ts: str) -> str:
    """RFC 1123 with numeric zone, local time, as kubectl prints times in describe."""
    t = parse_time(ts)
    if not t:
        return "<unknown>"
    return datetime.fromtimestamp(t).astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def _multiline(w: Writer, title: str, m: dict, skip=()) -> None:
    keys = sorted(k for k in m if k not in skip)
    if not keys:
        w.w(0, f"{title}:\t<none>")
        return
    for i, k in enumerate(keys):
        lead = f"{title}:\t" if i == 0 else "\t"
        if title == "Annotations":
            v = m[k].rstrip("\n")
            if len(v) + len(k) + 2 > MAX_ANNOTATION_LEN or "\n" in v:
                w.w(0, f"{lead}{k}:")
                for line in v.split("\n"):
                    short = line if len(line) <= MAX_ANNOTATION_LEN - 2 else line[:MAX_ANNOTATION_LEN - 5] + "..."
                    w.w(0, f"\t  {short}")
                continue
            w.w(0, f"{lead}{k}: {v}")
        else:
            w.w(0, f"{lead}{k}={m[k]}")


def _labels(w, meta, level=0):
    if level:
        w.w(level, f"Labels:\t{format_labels(meta.labels)}")
    else:
        _multiline(w, "Labels", dict(meta.labels))


def _annotations(w, meta):
    _multiline(w, "Annotations", dict(meta.annotations), SKIP_ANNOTATIONS)


def _controller(meta) -> str | None:
    for ref in meta.ownerReferences:
        if ref.HasField("controller") and ref.controller:
            return f"{ref.kind}/{ref.name}"
    return None


def _conditions_table(w, conds, columns):
    w.w(0, "Conditions:")
    w.w(1, "\t".join(c for c, _ in columns))
    w.w(1, "\t".join("-" * len(c) for c, _ in columns))
    for c in conds:
        w.w(1, "\t".join(get(c) for _, get in columns))


# ---------------------------------------------------------------- containers
def _port_lines(c) -> tuple[str, str]:
    if not c.ports:
        return "<none>", "<none>"
    ports = ", ".join(f"{p.containerPort}/{p.protocol or 'TCP'}" for p in c.ports)
    hosts = ", ".join(f"{p.hostPort}/{p.protocol or 'TCP'}" for p in c.ports)
    return ports, hosts


def _probe(p) -> str:
    if p.HasField("httpGet"):
        g = p.httpGet
        port = int_or_string(g.port)
        action = f"http-get {(g.scheme or 'HTTP').lower()}://{g.host}:{port}{g.path}"
    elif p.HasField("tcpSocket"):
        action = f"tcp-socket {p.tcpSocket.host}:{int_or_string(p.tcpSocket.port)}"
    elif p.HasField("exec"):
        action = f"exec [{' '.join(p.exec.command)}]"
    elif p.HasField("grpc"):
        action = f"grpc <pod>:{p.grpc.port} {p.grpc.service if p.grpc.HasField('service') else ''}".rstrip()
    else:
        action = "unknown"
    return (f"{action} delay={p.initialDelaySeconds}s timeout={p.timeoutSeconds}s period={p.periodSeconds}s "
            f"#success={p.successThreshold} #failure={p.failureThreshold}")


def _state(w, level, title, st):
    if st.HasField("running"):
        w.w(level, f"{title}:\tRunning")
        w.w(level + 1, f"Started:\t{fmt_time(st.running.startedAt)}")
    elif st.HasField("waiting"):
        w.w(level, f"{title}:\tWaiting")
        if st.waiting.reason:
            w.w(level + 1, f"Reason:\t{st.waiting.reason}")
        if st.waiting.message:
            w.w(level + 1, f"Message:\t{st.waiting.message}")
    elif st.HasField("terminated"):
        t = st.terminated
        w.w(level, f"{title}:\tTerminated")
        if t.reason:
            w.w(level + 1, f"Reason:\t{t.reason}")
        if t.message:
            w.w(level + 1, f"Message:\t{t.message}")
        w.w(level + 1, f"Exit Code:\t{t.exitCode}")
        if t.signal:
            w.w(level + 1, f"Signal:\t{t.signal}")
        w.w(level + 1, f"Started:\t{fmt_time(t.startedAt)}")
        w.w(level + 1, f"Finished:\t{fmt_time(t.finishedAt)}")
    else:
        w.w(level, f"{title}:\tWaiting")


def _containers(w, title, containers, statuses=None, template=False):
    w.w(0, f"{title}:")
    by_name = {s.name: s for s in (statuses or [])}
    for c in containers:
        # kubectl: a pod's containers at level 1; a template's one space in, their fields at level 1
        if template:
            w.w(0, f" {c.name}:")
            lvl = 1
        else:
            w.w(1, f"{c.name}:")
            lvl = 2
        st = by_name.get(c.name)
        if st is not None and not template:
            w.w(lvl, f"Container ID:\t{st.containerID}")
        w.w(lvl, f"Image:\t{c.image}")
        if st is not None and not template:
            w.w(lvl, f"Image ID:\t{st.imageID}")
        ports, hosts = _port_lines(c)
        w.w(lvl, f"Port{'s' if len(c.ports) > 1 else ''}:\t{ports}")
        w.w(lvl, f"Host Port{'s' if len(c.ports) > 1 else ''}:\t{hosts}")
        if c.command:
            w.w(lvl, "Command:")
            for x in c.command:
                w.w(lvl + 1, x)
        if c.args:
            w.w(lvl, "Args:")
            for x in c.args:
                w.w(lvl + 1, x)
        if st is not None and not template:
            _state(w, lvl, "State", st.state)
            if st.lastState.ListFields():
                _state(w, lvl, "Last State", st.lastState)
            w.w(lvl, f"Ready:\t{'True' if st.ready else 'False'}")
            w.w(lvl, f"Restart Count:\t{st.restartCount}")
        elif not template:
            w.w(lvl, "State:\tWaiting")
            w.w(lvl, "Ready:\tFalse")
            w.w(lvl, "Restart Count:\t0")
        for name, res in (("Limits", c.resources.limits), ("Requests", c.resources.requests)):
            if res:
                w.w(lvl, f"{name}:")
                for k in sorted(res):
                    w.w(lvl + 1, f"{k}:\t{res[k]}")
        for name, p in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"),
                        ("Startup", "startupProbe")):
            if c.HasField(p):
                w.w(lvl, f"{name}:\t{_probe(getattr(c, p))}")
        if c.env:
            w.w(lvl, "Environment:")
            for e in c.env:
                if e.HasField("valueFrom"):
                    vf = e.valueFrom
                    if vf.HasField("fieldRef"):
                        src = f"({vf.fieldRef.apiVersion or 'v1'}:{vf.fieldRef.fieldPath})"
                    elif vf.HasField("resourceFieldRef"):
                        src = f"{vf.resourceFieldRef.resource}"
                    elif vf.HasField("configMapKeyRef"):
                        src = f"<set to the key '{vf.configMapKeyRef.key}' of config map " \
                              f"'{vf.configMapKeyRef.name}'>"
                    elif vf.HasField("secretKeyRef"):
                        src = f"<set to the key '{vf.secretKeyRef.key}' in secret '{vf.secretKeyRef.name}'>"
                    else:
                        src = ""
                    w.w(lvl + 1, f"{e.name}:\t{src}")
                else:
                    w.w(lvl + 1, f"{e.name}:\t{e.value}")
        else:
            w.w(lvl, "Environment:\t<none>")
        if c.volumeMounts:
            w.w(lvl, "Mounts:")
            for m in c.volumeMounts:
                ro = "ro" if m.readOnly else "rw"
                sub = f",path=\"{m.subPath}\"" if m.subPath else ""
                w.w(lvl + 1, f"{m.mountPath} from {m.name} ({ro}{sub})")
        else:
            w.w(lvl, "Mounts:\t<none>")


def _volumes(w, volumes, level=0):
    if not volumes:
        w.w(level, "Volumes:\t<none>")
        return
    w.w(level, "Volumes:")
    for v in volumes:
        w.w(level + 1, f"{v.name}:")
        if v.HasField("emptyDir"):
            w.w(level + 2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)")
            w.w(level + 2, f"Medium:\t{v.emptyDir.medium}")
            w.w(level + 2, f"SizeLimit:\t{v.emptyDir.sizeLimit or '<unset>'}")
        elif v.HasField("hostPath"):
            w.w(level + 2, "Type:\tHostPath (bare host directory volume)")
            w.w(level + 2, f"Path:\t{v.hostPath.path}")
            w.w(level + 2, f"HostPathType:\t{v.hostPath.type if v.hostPath.HasField('type') else ''}")
        elif v.HasField("configMap"):
            w.w(level + 2, "Type:\tConfigMap (a volume populated by a ConfigMap)")
            w.w(level + 2, f"Name:\t{v.configMap.name}")
            w.w(level + 2, f"Optional:\t{'true' if v.configMap.optional else 'false'}")
        elif v.HasField("secret"):
            w.w(level + 2, "Type:\tSecret (a volume populated by a Secret)")
            w.w(level + 2, f"SecretName:\t{v.secret.secretName}")
            w.w(level + 2, f"Optional:\t{'true' if v.secret.optional else 'false'}")
        elif v.HasField("persistentVolumeClaim"):
            w.w(level + 2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
                           "namespace)")
            w.w(level + 2, f"ClaimName:\t{v.persistentVolumeClaim.claimName}")
            w.w(level + 2, f"ReadOnly:\t{'true' if v.persistentVolumeClaim.readOnly else 'false'}")
        elif v.HasField("downwardAPI"):
            w.w(level + 2, "Type:\tDownwardAPI (a volume populated by information about the pod)")
            w.w(level + 2, "Items:")
            for it in v.downwardAPI.items:
                src = it.fieldRef.fieldPath if it.HasField("fieldRef") else it.resourceFieldRef.resource
                w.w(level + 3, f"{src} -> {it.path}")
        else:
            w.w(level + 2, "Type:\t<unknown>")


def _pod_template(w, tpl):
    w.w(0, "Pod Template:")
    w.w(1, f"Labels:\t{format_labels(tpl.metadata.labels)}")
    if tpl.metadata.annotations:
        w.w(1, f"Annotations:\t{format_labels(tpl.metadata.annotations)}")
    if tpl.spec.serviceAccountName:
        w.w(1, f"Service Account:\t{tpl.spec.serviceAccountName}")
    sub = Writer()
    if tpl.spec.initContainers:
        _containers(sub, "Init Containers", tpl.spec.initContainers, template=True)
    _containers(sub, "Containers", tpl.spec.containers, template=True)
    _volumes(sub, tpl.spec.volumes)
    sub.w(0, f"Node-Selectors:\t{format_labels(tpl.spec.nodeSelector)}")
    sub.w(0, f"Tolerations:\t{_tolerations(tpl.spec.tolerations)}")
    for line in sub.lines:
        w.w(1, line)


def _tolerations(tols) -> str:
    if not tols:
        return "<none>"
    out = []
    for t in tols:
        s = t.key
        if t.value:
            s += f"={t.value}"
        if t.effect:
            s += f":{t.effect}"
        if t.operator == "Exists" and not t.value:
            s += " op=Exists"
        if t.HasField("tolerationSeconds"):
            s += f" for {t.tolerationSeconds}s"
        out.append(s)
    return "\n\t".join(out) if len(out) > 1 else out[0]


# ---------------------------------------------------------------- kinds
# kind record -> describer(client, info, obj, writer); a kind without one gets the generic describer
DESCRIBERS: dict[KindInfo, Callable] = {}


def describer(info: KindInfo):
    """Register the decorated function as kubectl's describer for `info`."""
    def register(fn: Callable) -> Callable:
        DESCRIBERS[info] = fn
        return fn
    return register


DECISION_ANNOTATION = "scheduler.minik8s.io/decision"


@describer(kinds.POD)
def _describe_pod(client, info, o, w):
    m, spec, st = o.metadata, o.spec, o.status
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    w.w(0, f"Priority:\t{spec.priority if spec.HasField('priority') else 0}")
    if spec.priorityClassName:
        w.w(0, f"Priority Class Name:\t{spec.priorityClassName}")
    w.w(0, f"Service Account:\t{spec.serviceAccountName or 'default'}")
    node = spec.nodeName
    w.w(0, f"Node:\t{node + ('/' + st.hostIP if st.hostIP else '') if node else '<none>'}")
    if st.startTime:
        w.w(0, f"Start Time:\t{fmt_time(st.startTime)}")
    _labels(w, m)
    _annotations(w, m)
    if m.deletionTimestamp:
        w.w(0, f"Status:\tTerminating (lasts {since(m.deletionTimestamp)})")
        w.w(0, f"Termination Grace Period:\t{m.deletionGracePeriodSeconds}s")
    else:
        w.w(0, f"Status:\t{st.phase}")
    if st.reason:
        w.w(0, f"Reason:\t{st.reason}")
    if st.message:
        w.w(0, f"Message:\t{st.message}")
    w.w(0, f"IP:\t{st.podIP}")
    ips = [p.ip for p in st.podIPs] or ([st.podIP] if st.podIP else [])
    if ips:
        w.w(0, "IPs:")
        for ip in ips:
            w.w(1, f"IP:\t{ip}")
    else:
        w.w(0, "IPs:\t<none>")
    ctl = _controller(m)
    if ctl:
        w.w(0, f"Controlled By:\t{ctl}")
    if st.nominatedNodeName:
        w.w(0, f"NominatedNodeName:\t{st.nominatedNodeName}")
    if spec.initContainers:
        _containers(w, "Init Containers", spec.initContainers, st.initContainerStatuses)
    _containers(w, "Containers", spec.containers, st.containerStatuses)
    if spec.readinessGates:
        w.w(0, "Readiness Gates:")
        w.w(1, "Type\tStatus")
        conds = {c.type: c.status for c in st.conditions}
        for g in spec.readinessGates:
            w.w(1, f"{g.conditionType}\t{conds.get(g.conditionType, '<none>')}")
    if st.conditions:
        w.w(0, "Conditions:")
        w.w(1, "Type\tStatus")
        for c in st.conditions:
            w.w(1, f"{c.type}\t{c.status}")
    _volumes(w, spec.volumes)
    w.w(0, f"QoS Class:\t{st.qosClass}")
    w.w(0, f"Node-Selectors:\t{format_labels(spec.nodeSelector)}")
    w.w(0, f"Tolerations:\t{_tolerations(spec.tolerations)}")
    _scheduling_decision(w, m.annotations.get(DECISION_ANNOTATION, ""))


def _scheduling_decision(w, raw: str) -> None:
    """The scheduler's record of why the pod went where it went: each node's filter verdict and its
    score per plugin (see minik8s/scheduler/framework/framework.py, Framework.record)."""
    import json
    try:
        rec = json.loads(raw) if raw else None
        rows, plugins, weights = rec["rows"], rec["plugins"], rec["weights"]
    except (ValueError, KeyError, TypeError):
        return
    more = rec.get("more") or {}
    fit = sum(1 for r in rows if len(r) == 3) + more.get("feasible", 0)
    w.w(0, "Scheduling Decision:")
    w.w(1, f"{rec.get('node', '<none>')} chosen: {fit} of {rec.get('nodes', len(rows))} nodes fit")
    heads = [p if wt == 1 else f"{p}(x{wt})" for p, wt in zip(plugins, weights)]
    w.w(1, "\t".join(["Node", "Score", *heads, "Filter"]))
    w.w(1, "\t".join(["-" * len(h) for h in ["Node", "Score", *heads, "Filter"]]))
    for r in rows:
        if len(r) == 3:
            w.w(1, "\t".join([r[0], str(r[1]), *(str(x) for x in r[2]), "passed"]))
        else:
            w.w(1, "\t".join([r[0], "", *([""] * len(heads)), r[1]]))
    if more:
        reasons = f" ({more['reasons']})" if more.get("reasons") else ""
        w.w(1, f"... and {more.get('feasible', 0) + more.get('filtered', 0)} more nodes: "
               f"{more.get('feasible', 0)} passed, {more.get('filtered', 0)} filtered out{reasons}")


def _owned(objs, uid):
    return [x for x in objs if any(r.uid == uid for r in x.metadata.ownerReferences)]


@describer(kinds.DEPLOYMENT)
def _describe_deployment(client, info, o, w):
    m, spec, st = o.metadata, o.spec, o.status
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    w.w(0, f"CreationTimestamp:\t{fmt_time(m.creationTimestamp)}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"Selector:\t{format_selector(spec.selector)}")
    replicas = spec.replicas if spec.HasField("replicas") else 1
    w.w(0, f"Replicas:\t{replicas} desired | {st.updatedReplicas} updated | {st.replicas} total | "
           f"{st.availableReplicas} available | {st.unavailableReplicas} unavailable")
    w.w(0, f"StrategyType:\t{spec.strategy.type}")
    w.w(0, f"MinReadySeconds:\t{spec.minReadySeconds}")
    if spec.strategy.type == "RollingUpdate" or spec.strategy.HasField("rollingUpdate"):
        ru = spec.strategy.rollingUpdate
        w.w(0, f"RollingUpdateStrategy:\t{int_or_string(ru.maxUnavailable)} max unavailable, "
               f"{int_or_string(ru.maxSurge)} max surge")
    _pod_template(w, spec.template)
    _status_conditions(w, st.conditions)
    try:
        rss = _owned(client.list("ReplicaSet", m.namespace), m.uid)
    except Exception:
        rss = []

    def rev(rs):
        try:
            return int(rs.metadata.annotations.get("deployment.kubernetes.io/revision", "0"))
        except ValueError:
            return 0
    rss.sort(key=rev)
    new = rss[-1] if rss else None
    old = [r for r in rss[:-1] if (r.spec.replicas if r.spec.HasField("replicas") else 0) > 0 or r.status.replicas]

    def rs_line(r):
        return f"{r.metadata.name} ({r.status.replicas}/{r.spec.replicas if r.spec.HasField('replicas') else 0} " \
               f"replicas created)"
    w.w(0, f"OldReplicaSets:\t{', '.join(rs_line(r) for r in old) or '<none>'}")
    w.w(0, f"NewReplicaSet:\t{rs_line(new) if new else '<none>'}")


def _workload_header(w, m, selector, controlled_by: bool = True) -> None:
    """The lines kubectl's describers of workloads open with: name, namespace, selector, labels,
    annotations and (for those that have one) the controller."""
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    w.w(0, f"Selector:\t{format_selector(selector)}")
    _labels(w, m)
    _annotations(w, m)
    ctl = _controller(m) if controlled_by else None
    if ctl:
        w.w(0, f"Controlled By:\t{ctl}")


def _pods_status(w, client, ns, selector) -> None:
    c = _pod_phase_counts(client, ns, selector)
    w.w(0, f"Pods Status:\t{c['Running']} Running / {c['Pending']} Waiting / {c['Succeeded']} Succeeded / "
           f"{c['Failed']} Failed")


def _status_conditions(w, conditions) -> None:
    if conditions:
        _conditions_table(w, conditions, [("Type", lambda c: c.type), ("Status", lambda c: c.status),
                                          ("Reason", lambda c: c.reason)])


def _pod_phase_counts(client, ns, selector) -> dict:
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    from minik8s.api.selectors import from_label_selector_obj
    try:
        sel = str(from_label_selector_obj(selector))
        for p in client.list("Pod", ns, sel):
            counts[p.status.phase] = counts.get(p.status.phase, 0) + 1
    except Exception:
        pass
    return counts


@describer(kinds.REPLICA_SET)
def _describe_replicaset(client, info, o, w):
    m, spec, st = o.metadata, o.spec, o.status
    _workload_header(w, m, spec.selector)
    w.w(0, f"Replicas:\t{st.replicas} current / {spec.replicas if spec.HasField('replicas') else 1} desired")
    _pods_status(w, client, m.namespace, spec.selector)
    _pod_template(w, spec.template)
    _status_conditions(w, st.conditions)


@describer(kinds.STATEFUL_SET)
def _describe_statefulset(client, info, o, w):
    m, spec, st = o.metadata, o.spec, o.status
    _workload_header(w, m, spec.selector, controlled_by=False)
    w.w(0, f"Replicas:\t{spec.replicas if spec.HasField('replicas') else 1} desired | {st.replicas} total")
    w.w(0, f"Update Strategy:\t{spec.updateStrategy.type}")
    if spec.updateStrategy.type == "RollingUpdate":
        w.w(1, f"Partition:\t{spec.updateStrategy.rollingUpdate.partition}")
    _pods_status(w, client, m.namespace, spec.selector)
    _pod_template(w, spec.template)
    w.w(0, "Volume Claims:" + ("\t<none>" if not spec.volumeClaimTemplates else ""))
    for t in spec.volumeClaimTemplates:
        w.w(1, f"Name:\t{t.metadata.name}")
        w.w(1, f"StorageClass:\t{t.spec.storageClassName}")
        w.w(1, f"Capacity:\t{t.spec.resources.requests.get('storage', '')}")
        w.w(1, f"Access Modes:\t{','.join(t.spec.accessModes)}")


@describer(kinds.DAEMON_SET)
def _describe_daemonset(client, info, o, w):
    m, spec, st = o.metadata, o.spec, o.status
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Selector:\t{format_selector(spec.selector)}")
    w.w(0, f"Node-Selector:\t{format_labels(spec.template.spec.nodeSelector)}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"Desired Number of Nodes Scheduled: {st.desiredNumberScheduled}")
    w.w(0, f"Current Number of Nodes Scheduled: {st.currentNumberScheduled}")
    w.w(0, f"Number of Nodes Scheduled with Up-to-date Pods: {st.updatedNumberScheduled}")
    w.w(0, f"Number of Nodes Scheduled with Available Pods: {st.numberAvailable}")
    w.w(0, f"Number of Nodes Misscheduled: {st.numberMisscheduled}")
    _pods_status(w, client, m.namespace, spec.selector)
    _pod_template(w, spec.template)


@describer(kinds.JOB)
def _describe_job(client, info, o, w):
    m, spec, st = o.metadata, o.spec, o.status
    _workload_header(w, m, spec.selector)
    w.w(0, f"Parallelism:\t{spec.parallelism if spec.HasField('parallelism') else 1}")
    w.w(0, f"Completions:\t{spec.completions if spec.HasField('completions') else '<unset>'}")
    w.w(0, f"Completion Mode:\t{spec.completionMode if spec.HasField('completionMode') else 'NonIndexed'}")
    w.w(0, f"Suspend:\t{'true' if spec.HasField('suspend') and spec.suspend else 'false'}")
    w.w(0, f"Backoff Limit:\t{spec.backoffLimit if spec.HasField('backoffLimit') else 6}")
    if spec.HasField("ttlSecondsAfterFinished"):
        w.w(0, f"TTL Seconds After Finished:\t{spec.ttlSecondsAfterFinished}")
    if st.startTime:
        w.w(0, f"Start Time:\t{fmt_time(st.startTime)}")
    if st.completionTime:
        w.w(0, f"Completed At:\t{fmt_time(st.completionTime)}")
        from minik8s.cli.printers import human_duration
        w.w(0, f"Duration:\t{human_duration(parse_time(st.completionTime) - parse_time(st.startTime))}")
    if spec.HasField("activeDeadlineSeconds"):
        w.w(0, f"Active Deadline Seconds:\t{spec.activeDeadlineSeconds}s")
    ready = st.ready if st.HasField("ready") else 0
    w.w(0, f"Pods Statuses:\t{st.active} Active ({ready} Ready) / {st.succeeded} Succeeded / {st.failed} Failed")
    if spec.completionMode == "Indexed":
        w.w(0, f"Completed Indexes:\t{_capped_indexes(st.completedIndexes)}")
    _pod_template(w, spec.template)
    _status_conditions(w, st.conditions)


def _capped_indexes(indexes: str, soft_limit: int = 50) -> str:
    """kubectl's capIndexesListOrNone: the interval list cut after the first comma past 50 chars."""
    if not indexes:
        return "<none>"
    cut = indexes.find(",", soft_limit)
    return indexes if cut < 0 else indexes[:cut + 1] + "..."


@describer(kinds.HORIZONTAL_POD_AUTOSCALER)
def _describe_hpa(client, info, o, w):
    """kubectl's describeHorizontalPodAutoscalerV2."""
    m, spec, st = o.metadata, o.spec, o.status
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"CreationTimestamp:\t{fmt_time(m.creationTimestamp)}")
    w.w(0, f"Reference:\t{spec.scaleTargetRef.kind}/{spec.scaleTargetRef.name}")
    w.w(0, "Metrics:\t( current / target )")
    for i, metric in enumerate(spec.metrics):
        w.w(1, _hpa_metric_line(metric, st.currentMetrics[i] if len(st.currentMetrics) > i else None))
    w.w(0, f"Min replicas:\t{spec.minReplicas if spec.HasField('minReplicas') else '<unset>'}")
    w.w(0, f"Max replicas:\t{spec.maxReplicas}")
    if spec.HasField("behavior"):
        w.w(0, "Behavior:")
        for title, name in (("Scale Up", "scaleUp"), ("Scale Down", "scaleDown")):
            if spec.behavior.HasField(name):
                _hpa_direction(w, title, getattr(spec.behavior, name))
    w.w(0, f"{spec.scaleTargetRef.kind} pods:\t{st.currentReplicas} current / {st.desiredReplicas} desired")
    if st.conditions:
        _conditions_table(w, st.conditions, [("Type", lambda c: c.type), ("Status", lambda c: c.status),
                                             ("Reason", lambda c: c.reason), ("Message", lambda c: c.message)])


def _hpa_metric_line(metric, current) -> str:
    def cur(field: str):
        return getattr(current, field) if current is not None and current.HasField(field) else None
    if metric.type in ("Resource", "ContainerResource"):
        field = "resource" if metric.type == "Resource" else "containerResource"
        src, now = getattr(metric, field), cur(field)
        what = f"resource {src.name} on pods" if field == "resource" else \
            f'resource {src.name} of container "{src.container}" on pods'
        if src.target.averageValue:
            return f"{what}:\t{now.current.averageValue if now else '<unknown>'} / {src.target.averageValue}"
        value = f"{now.current.averageUtilization}% ({now.current.averageValue or '0'})" \
            if now is not None and now.current.HasField("averageUtilization") else "<unknown>"
        target = f"{src.target.averageUtilization}%" if src.target.HasField("averageUtilization") else "<auto>"
        return f"{what}  (as a percentage of request):\t{value} / {target}"
    if metric.type == "Pods":
        now = cur("pods")
        return f'"{metric.pods.metric.name}" on pods:\t{now.current.averageValue if now else "<unknown>"} / ' \
               f"{metric.pods.target.averageValue}"
    if metric.type in ("Object", "External"):
        field = metric.type.lower()
        src, now = getattr(metric, field), cur(field)
        where = f"on {src.describedObject.kind}/{src.describedObject.name}" if field == "object" else \
            "(target value)" if src.target.value else "(target average value)"
        if src.target.value:
            return f'"{src.metric.name}" {where}:\t{now.current.value if now else "<unknown>"} / {src.target.value}'
        avg = f"{now.current.averageValue if now else '<unknown>'} / {src.target.averageValue}"
        return f'"{src.metric.name}" {where}:\t{avg}' + (" (avg)" if field == "object" else "")
    return f'<unknown metric type "{metric.type}">'


def _hpa_direction(w, title: str, rules) -> None:
    w.w(1, f"{title}:")
    if rules.HasField("stabilizationWindowSeconds"):
        w.w(2, f"Stabilization Window: {rules.stabilizationWindowSeconds} seconds")
    if rules.policies:
        w.w(2, f"Select Policy: {rules.selectPolicy if rules.HasField('selectPolicy') else 'Max'}")
        w.w(2, "Policies:")
        for p in rules.policies:
            w.w(3, f"- Type: {p.type}\tValue: {p.value}\tPeriod: {p.periodSeconds} seconds")


@describer(kinds.CRONJOB)
def _describe_cronjob(client, info, o, w):
    m, spec, st = o.metadata, o.spec, o.status
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"Schedule:\t{spec.schedule}")
    w.w(0, f"Concurrency Policy:\t{spec.concurrencyPolicy}")
    w.w(0, f"Suspend:\t{spec.suspend if spec.HasField('suspend') else '<unset>'}")
    for title, field in (("Successful Job History Limit", "successfulJobsHistoryLimit"),
                         ("Failed Job History Limit", "failedJobsHistoryLimit")):
        w.w(0, f"{title}:\t{getattr(spec, field) if spec.HasField(field) else '<unset>'}")
    deadline = f"{spec.startingDeadlineSeconds}s" if spec.HasField("startingDeadlineSeconds") else "<unset>"
    w.w(0, f"Starting Deadline Seconds:\t{deadline}")
    tpl = spec.jobTemplate.spec
    w.w(0, f"Selector:\t{format_selector(tpl.selector) if tpl.HasField('selector') else '<unset>'}")
    w.w(0, f"Parallelism:\t{tpl.parallelism if tpl.HasField('parallelism') else '<unset>'}")
    w.w(0, f"Completions:\t{tpl.completions if tpl.HasField('completions') else '<unset>'}")
    if tpl.HasField("activeDeadlineSeconds"):
        w.w(0, f"Active Deadline Seconds:\t{tpl.activeDeadlineSeconds}s")
    _pod_template(w, tpl.template)
    w.w(0, f"Last Schedule Time:\t{fmt_time(st.lastScheduleTime) if st.lastScheduleTime else '<unset>'}")
    w.w(0, f"Active Jobs:\t{', '.join(ref.name for ref in st.active) or '<none>'}")


@describer(kinds.SERVICE)
def _describe_service(client, info, o, w):
    m, spec = o.metadata, o.spec
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"Selector:\t{format_labels(spec.selector)}")
    w.w(0, f"Type:\t{spec.type}")
    if spec.HasField("ipFamilyPolicy"):
        w.w(0, f"IP Family Policy:\t{spec.ipFamilyPolicy}")
    if spec.ipFamilies:
        w.w(0, f"IP Families:\t{','.join(spec.ipFamilies)}")
    w.w(0, f"IP:\t{spec.clusterIP}")
    if spec.clusterIPs:
        w.w(0, f"IPs:\t{','.join(spec.clusterIPs)}")
    if spec.externalIPs:
        w.w(0, f"External IPs:\t{','.join(spec.externalIPs)}")
    if spec.type == "ExternalName":
        w.w(0, f"External Name:\t{spec.externalName}")
    endpoints = None
    try:
        endpoints = client.get("Endpoints", m.name, m.namespace)
    except Exception:
        pass
    for p in spec.ports:
        name = p.name or "<unset>"
        w.w(0, f"Port:\t{name}\t{p.port}/{p.protocol}")
        tp = int_or_string(p.targetPort) if p.HasField("targetPort") else ""
        w.w(0, f"TargetPort:\t{tp}/{p.protocol}")
        if p.nodePort:
            w.w(0, f"NodePort:\t{name}\t{p.nodePort}/{p.protocol}")
        eps = []
        if endpoints is not None:
            for ss in endpoints.subsets:
                for ep in ss.ports:
                    if ep.name == p.name:
                        eps.extend(f"{a.ip}:{ep.port}" for a in ss.addresses)
        w.w(0, f"Endpoints:\t{','.join(eps)}")
    w.w(0, f"Session Affinity:\t{spec.sessionAffinity or 'None'}")
    if spec.externalTrafficPolicy:
        w.w(0, f"External Traffic Policy:\t{spec.externalTrafficPolicy}")
    if spec.HasField("internalTrafficPolicy"):
        w.w(0, f"Internal Traffic Policy:\t{spec.internalTrafficPolicy}")


@describer(kinds.NODE)
def _describe_node(client, info, o, w):
    from minik8s.cli.printers import node_roles
    m, spec, st = o.metadata, o.spec, o.status
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Roles:\t{node_roles(o)}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"CreationTimestamp:\t{fmt_time(m.creationTimestamp)}")
    if spec.taints:
        for i, t in enumerate(spec.taints):
            text = f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"
            w.w(0, f"{'Taints:' if i == 0 else ''}\t{text}")
    else:
        w.w(0, "Taints:\t<none>")
    w.w(0, f"Unschedulable:\t{'true' if spec.unschedulable else 'false'}")
    if st.conditions:
        _conditions_table(w, st.conditions, [
            ("Type", lambda c: c.type), ("Status", lambda c: c.status),
            ("LastHeartbeatTime", lambda c: fmt_time(c.lastHeartbeatTime)),
            ("LastTransitionTime", lambda c: fmt_time(c.lastTransitionTime)),
            ("Reason", lambda c: c.reason), ("Message", lambda c: c.message)])
    w.w(0, "Addresses:")
    for a in st.addresses:
        w.w(1, f"{a.type}:\t{a.address}")
    for title, res in (("Capacity", st.capacity), ("Allocatable", st.allocatable)):
        if res:
            w.w(0, f"{title}:")
            for k in sorted(res):
                w.w(1, f"{k}:\t{res[k]}")
    ni = st.nodeInfo
    w.w(0, "System Info:")
    for label, v in (("Machine ID", ni.machineID), ("System UUID", ni.systemUUID), ("Boot ID", ni.bootID),
                     ("Kernel Version", ni.kernelVersion), ("OS Image", ni.osImage),
                     ("Operating System", ni.operatingSystem), ("Architecture", ni.architecture),
                     ("Container Runtime Version", ni.containerRuntimeVersion),
                     ("Kubelet Version", ni.kubeletVersion), ("Kube-Proxy Version", ni.kubeProxyVersion)):
        w.w(1, f"{label}:\t{v}")
    if spec.podCIDR:
        w.w(0, f"PodCIDR:\t{spec.podCIDR}")
        w.w(0, f"PodCIDRs:\t{','.join(spec.podCIDRs) or spec.podCIDR}")
    if spec.providerID:
        w.w(0, f"ProviderID:\t{spec.providerID}")
    try:
        pods = [p for p in client.list("Pod", "", field_selector=f"spec.nodeName={m.name}")
                if p.status.phase not in ("Succeeded", "Failed")]
    except Exception:
        pods = None
    if pods is None:
        return
    from minik8s.api.quantity import bytes_value, cpu_millis, format_millicpu
    w.w(0, f"Non-terminated Pods:\t({len(pods)} in total)")
    w.w(1, "Namespace\tName\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge")
    w.w(1, "---------\t----\t------------\t----------\t---------------\t-------------\t---")
    alloc_cpu = _safe(cpu_millis, st.allocatable.get("cpu", "0"))
    alloc_mem = _safe(bytes_value, st.allocatable.get("memory", "0"))
    tot = {"rc": 0, "lc": 0, "rm": 0, "lm": 0}
    for p in sorted(pods, key=lambda p: (p.metadata.namespace, p.metadata.name)):
        rc = sum(_safe(cpu_millis, c.resources.requests.get("cpu", "0")) for c in p.spec.containers)
        lc = sum(_safe(cpu_millis, c.resources.limits.get("cpu", "0")) for c in p.spec.containers)
        rm = sum(_safe(bytes_value, c.resources.requests.get("memory", "0")) for c in p.spec.containers)
        lm = sum(_safe(bytes_value, c.resources.limits.get("memory", "0")) for c in p.spec.containers)
        for k, v in (("rc", rc), ("lc", lc), ("rm", rm), ("lm", lm)):
            tot[k] += v
        w.w(1, f"{p.metadata.namespace}\t{p.metadata.name}\t{format_millicpu(rc)} ({_pct(rc, alloc_cpu)}%)\t"
               f"{format_millicpu(lc)} ({_pct(lc, alloc_cpu)}%)\t{_mem(rm)} ({_pct(rm, alloc_mem)}%)\t"
               f"{_mem(lm)} ({_pct(lm, alloc_mem)}%)\t{since(p.metadata.creationTimestamp)}")
    w.w(0, "Allocated resources:")
    w.w(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
    w.w(1, "Resource\tRequests\tLimits")
    w.w(1, "--------\t--------\t------")
    w.w(1, f"cpu\t{format_millicpu(tot['rc'])} ({_pct(tot['rc'], alloc_cpu)}%)\t"
           f"{format_millicpu(tot['lc'])} ({_pct(tot['lc'], alloc_cpu)}%)")
    w.w(1, f"memory\t{_mem(tot['rm'])} ({_pct(tot['rm'], alloc_mem)}%)\t{_mem(tot['lm'])} "
           f"({_pct(tot['lm'], alloc_mem)}%)")


def _safe(fn, v) -> int:
    try:
        return fn(v)
    except Exception:
        return 0


def _pct(v: int, total: int) -> int:
    return int(v * 100 / total) if total else 0


def _mem(b: int) -> str:
    if b == 0:
        return "0"
    for suffix, mult in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if b % mult == 0:
            return f"{b // mult}{suffix}"
    return str(b)


@describer(kinds.NAMESPACE)
def _describe_namespace(client, info, o, w):
    m = o.metadata
    w.w(0, f"Name:\t{m.name}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"Status:\t{o.status.phase}")
    w.w(0, "")
    w.w(0, "No resource quota.")
    w.w(0, "")
    w.w(0, "No LimitRange resource.")


@describer(kinds.CONFIG_MAP)
def _describe_configmap(client, info, o, w):
    m = o.metadata
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, "\nData\n====")
    for key in sorted(o.data):
        w.w(0, f"{key}:\n----\n{o.data[key]}\n")
    w.w(0, "\nBinaryData\n====")
    for key in sorted(o.binaryData):
        w.w(0, f"{key}: {len(o.binaryData[key])} bytes")
    w.w(0, "")


@describer(kinds.SECRET)
def _describe_secret(client, info, o, w):
    """Key names and sizes only: a Secret's values are never printed."""
    m = o.metadata
    w.w(0, f"Name:\t{m.name}")
    w.w(0, f"Namespace:\t{m.namespace}")
    _labels(w, m)
    _annotations(w, m)
    w.w(0, f"\nType:\t{o.type}")
    w.w(0, "\nData\n====")
    for key in sorted(o.data):
        w.w(0, f"{key}:\t{len(o.data[key])} bytes")


_INITIALISMS = {"api": "API", "id": "ID", "ip": "IP", "ips": "IPs", "uid": "UID", "url": "URL", "cpu": "CPU",
                "tls": "TLS", "dns": "DNS", "http": "HTTP", "tcp": "TCP", "udp": "UDP", "cidr": "CIDR"}


def _smart_label(key: str) -> str:
    """kubectl's smartLabelFor: `scaleTargetRef` -> `Scale Target Ref`, `apiVersion` -> `API Version`."""
    words, cur = [], ""
    for i, ch in enumerate(key):
        if ch.isupper() and cur and not key[i - 1].isupper():
            words.append(cur)
            cur = ""
        cur += ch
    if cur:
        words.append(cur)
    return " ".join(_INITIALISMS.get(w.lower(), w[:1].upper() + w[1:]) for w in words)


def _generic_value(w, level, key, value):
    if isinstance(value, dict):
        if not value:
            return
        w.w(level, f"{key}:")
        for k, v in value.items():
            _generic_value(w, level + 1, k if "/" in k or "." in k else _smart_label(k), v)
    elif isinstance(value, list):
        if not value:
            return
        w.w(level, f"{key}:")
        for item in value:
            if isinstance(item, dict):
                for k, v in item.items():
                    label = _smart_label(k)
                    if isinstance(v, (dict, list)):
                        _generic_value(w, level + 1, label, v)
                    else:
                        w.w(level + 1, f"{label}:\t{_scalar(v)}")
            else:
                w.w(level + 1, _scalar(item))
    else:
        w.w(level, f"{key}:\t{_scalar(value)}")


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _describe_generic(client, info, o, w):
    from minik8s.api.codec import to_dict
    m = o.metadata
    w.w(0, f"Name:\t{m.name}")
    if info.namespaced:
        w.w(0, f"Namespace:\t{m.namespace}")
    _labels(w, m)
    _annotations(w, m)
    d = to_dict(o)
    w.w(0, f"API Version:\t{info.api_version}")
    w.w(0, f"Kind:\t{info.kind}")
    for key, value in d.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        _generic_value(w, 0, _smart_label(key), value)


# ---------------------------------------------------------------- events
def events_for(client, obj) -> list:
    meta = obj.metadata
    try:
        evs = list(client.list("Event", meta.namespace, field_selector=f"involvedObject.uid={meta.uid}"))
    except Exception:
        return []

    def last(e):
        # timestamps have whole seconds; within a second, the recorder's name suffix (hex unix nanos
        # of when the event happened) keeps the order things happened in
        when = parse_time(e.lastTimestamp or e.firstTimestamp or e.eventTime or e.metadata.creationTimestamp)
        try:
            nanos = int(e.metadata.name.rsplit(".", 1)[1], 16)
        except (IndexError, ValueError):
            nanos = 0
        return when, nanos if e.count <= 1 else 0
    return sorted(evs, key=last)


def events_section(w: Writer, events: list, now: float | None = None) -> None:
    if not events:
        w.w(0, "Events:\t<none>")
        return
    now = now or time.time()
    w.w(0, "Events:")
    w.w(1, "Type\tReason\tAge\tFrom\tMessage")
    w.w(1, "----\t------\t----\t----\t-------")
    for e in events:
        first = since(e.firstTimestamp, now) if e.firstTimestamp else since(e.eventTime, now)
        if e.HasField("series"):
            age = f"{since(e.series.lastObservedTime, now)} (x{e.series.count} over {first})"
        elif e.count > 1:
            age = f"{since(e.lastTimestamp, now)} (x{e.count} over {first})"
        else:
            age = first
        source = e.source.component or e.reportingComponent
        w.w(1, f"{e.type}\t{e.reason}\t{age}\t{source}\t{e.message.strip()}")


def describe(client, info, obj, show_events: bool = True) -> str:
    w = Writer()
    DESCRIBERS.get(info, _describe_generic)(client, info, obj, w)
    if show_events and info != kinds.EVENT:
        events_section(w, events_for(client, obj))
    return w.render()
