"""Rows of the workload kinds as kubectl prints them: Deployments, ReplicaSets, StatefulSets,
DaemonSets, Jobs, CronJobs, and the PodDisruptionBudgets that guard them; -o wide adds the
template's containers and images and the selector."""
from __future__ import annotations

import time

from minik8s.api import kinds

from minik8s.api.printing.cells import (containers_cells, cond_true, format_labels, format_selector,
                                        human_duration, int_or_string, parse_time, replicas, since)
from minik8s.api.printing.columns import columns

TEMPLATE = ("Containers", "Images", "Selector")


@columns(kinds.DEPLOYMENT, "Name", "Ready", "Up-to-date", "Available", "Age", wide=TEMPLATE)
def _deployment_row(o, now):
    return [o.metadata.name, f"{o.status.readyReplicas}/{replicas(o.spec)}", str(o.status.updatedReplicas),
            str(o.status.availableReplicas), since(o.metadata.creationTimestamp, now),
            *containers_cells(o.spec.template.spec), format_selector(o.spec.selector)]


@columns(kinds.REPLICA_SET, "Name", "Desired", "Current", "Ready", "Age", wide=TEMPLATE)
def _replicaset_row(o, now):
    return [o.metadata.name, str(replicas(o.spec)), str(o.status.replicas), str(o.status.readyReplicas),
            since(o.metadata.creationTimestamp, now),
            *containers_cells(o.spec.template.spec), format_selector(o.spec.selector)]


@columns(kinds.STATEFUL_SET, "Name", "Ready", "Age", wide=("Containers", "Images"))
def _statefulset_row(o, now):
    return [o.metadata.name, f"{o.status.readyReplicas}/{replicas(o.spec)}", since(o.metadata.creationTimestamp, now),
            *containers_cells(o.spec.template.spec)]


@columns(kinds.DAEMON_SET, "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
         wide=TEMPLATE)
def _daemonset_row(o, now):
    st = o.status
    return [o.metadata.name, str(st.desiredNumberScheduled), str(st.currentNumberScheduled), str(st.numberReady),
            str(st.updatedNumberScheduled), str(st.numberAvailable), format_labels(o.spec.template.spec.nodeSelector),
            since(o.metadata.creationTimestamp, now),
            *containers_cells(o.spec.template.spec), format_selector(o.spec.selector)]


def job_status(o) -> str:
    conds = o.status.conditions
    if cond_true(conds, "Complete"):
        return "Complete"
    if cond_true(conds, "Failed"):
        return "Failed"
    if o.metadata.deletionTimestamp:
        return "Terminating"
    for t in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if cond_true(conds, t):
            return t
    return "Running"


@columns(kinds.JOB, "Name", "Status", "Completions", "Duration", "Age", wide=TEMPLATE)
def _job_row(o, now):
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
    return [o.metadata.name, job_status(o), completions, duration, since(o.metadata.creationTimestamp, now),
            *containers_cells(spec.template.spec), format_selector(spec.selector)]


@columns(kinds.CRONJOB, "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", wide=TEMPLATE)
def _cronjob_row(o, now):
    spec, st = o.spec, o.status
    last = since(st.lastScheduleTime, now) if st.lastScheduleTime else "<none>"
    tpl = spec.jobTemplate.spec
    return [o.metadata.name, spec.schedule, spec.timeZone if spec.HasField("timeZone") else "<none>",
            str(spec.suspend) if spec.HasField("suspend") else "<unset>", str(len(st.active)), last,
            since(o.metadata.creationTimestamp, now),
            *containers_cells(tpl.template.spec),
            format_selector(tpl.selector) if tpl.HasField("selector") else "<none>"]


@columns(kinds.POD_DISRUPTION_BUDGET, "Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age")
def _pdb_row(o, now):
    mn = int_or_string(o.spec.minAvailable) if o.spec.HasField("minAvailable") else "N/A"
    mx = int_or_string(o.spec.maxUnavailable) if o.spec.HasField("maxUnavailable") else "N/A"
    return [o.metadata.name, mn, mx, str(o.status.disruptionsAllowed), since(o.metadata.creationTimestamp, now)]
