"""The Pod kind (core/v1): its defaults (SetDefaults_Pod on top of the shared pod spec defaults),
validation with the narrow set of fields an update may change, the QoS class the server sets on
create, the field selectors upstream supports for pods, and the graceful delete rule: a pod on a node
goes only when its kubelet confirms with grace 0 (or once it has finished).
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.podspec_defaults import _default_pod_spec
from minik8s.api.podspec_validation import _pod_spec
from minik8s.api.quantity import QuantityError, parse_quantity
from minik8s.api.validation_common import _c, Errors, _Errors, _INT32_MAX, _ix, _key, _object_meta, _opt


# ---------------------------------------------------------------- defaults
def _requests_from_limits(c) -> None:
    if not c.HasField("resources"):
        return
    limits, requests = c.resources.limits, c.resources.requests
    for key in limits:
        if key not in requests:
            requests[key] = limits[key]


def _default_pod(pod) -> None:
    spec = pod.spec
    _default_pod_spec(spec)
    # SetDefaults_Pod: only on a Pod, never on a template.
    for c in list(spec.containers) + list(spec.initContainers):
        _requests_from_limits(c)
    if not spec.HasField("enableServiceLinks"):
        spec.enableServiceLinks = True
    if spec.hostNetwork:
        for c in list(spec.containers) + list(spec.initContainers):
            for port in c.ports:
                if port.hostPort == 0:
                    port.hostPort = port.containerPort
    if not spec.HasField("priority"):
        spec.priority = 0                              # the Priority admission plugin, no classes


# ---------------------------------------------------------------- validation
def validate_pod(pod, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, pod.metadata)
    if pod.metadata.annotations.get("kubernetes.io/config.mirror") is not None and not pod.spec.nodeName:
        errs.invalid(_key("metadata.annotations", "kubernetes.io/config.mirror"),
                     pod.metadata.annotations["kubernetes.io/config.mirror"],
                     "must set spec.nodeName if mirror pod annotation is set")
    _pod_spec(errs, pod.spec, "spec", is_pod=True)
    if old is not None:
        _pod_update(errs, pod, old)
    return errs


_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


def _pod_update(errs: _Errors, pod, old) -> None:
    new_spec, old_spec = pod.spec, old.spec
    for name in ("containers", "initContainers"):
        new_c, old_c = getattr(new_spec, name), getattr(old_spec, name)
        if len(new_c) != len(old_c):
            errs.forbidden(_c("spec", name), "pod updates may not add or remove containers")
            return
        for i, c in enumerate(new_c):
            if not c.image:
                errs.required(_c(_ix(_c("spec", name), i), "image"))
            if c.image != c.image.strip():
                errs.invalid(_c(_ix(_c("spec", name), i), "image"), c.image,
                             "must not have leading or trailing whitespace")
    new_deadline, old_deadline = _opt(new_spec, "activeDeadlineSeconds"), _opt(old_spec, "activeDeadlineSeconds")
    if new_deadline is not None:
        if not 0 <= new_deadline <= _INT32_MAX:
            errs.invalid("spec.activeDeadlineSeconds", new_deadline, f"must be between 0 and {_INT32_MAX}, inclusive")
            return
        if old_deadline is not None and old_deadline < new_deadline:
            errs.invalid("spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value")
            return
    elif old_deadline is not None:
        errs.invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value")
    # Tolerations may only be added (an existing one may change only its tolerationSeconds).
    for old_t in old_spec.tolerations:
        if not any(_same_toleration(old_t, t) for t in new_spec.tolerations):
            errs.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")
            break
    if new_spec == old_spec:
        return
    munged = type(new_spec)()
    munged.CopyFrom(new_spec)
    for name in ("containers", "initContainers"):
        for c, o in zip(getattr(munged, name), getattr(old_spec, name)):
            c.image = o.image
    if old_deadline is None:
        munged.ClearField("activeDeadlineSeconds")
    else:
        munged.activeDeadlineSeconds = old_deadline
    del munged.tolerations[:]
    munged.tolerations.extend(old_spec.tolerations)
    old_grace = _opt(old_spec, "terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and _opt(munged, "terminationGracePeriodSeconds") == 1:
        munged.terminationGracePeriodSeconds = old_grace
    if munged != old_spec:
        errs.forbidden("spec", "pod updates may not change fields other than " + ",".join(_UPDATABLE_POD_FIELDS))


def _same_toleration(old_t, new_t) -> bool:
    a, b = type(old_t)(), type(new_t)()
    a.CopyFrom(old_t)
    b.CopyFrom(new_t)
    a.ClearField("tolerationSeconds")
    b.ClearField("tolerationSeconds")
    return a == b


# ---------------------------------------------------------------- write strategy
def _comparable_quantity(s: str):
    try:
        return parse_quantity(s)
    except QuantityError:
        return s


def qos_class(spec) -> str:
    """Upstream's QoS rule: Guaranteed when every container sets equal cpu and memory requests and
    limits, BestEffort when none sets any, Burstable otherwise."""
    containers = list(spec.containers) + list(spec.initContainers)
    any_set = False
    guaranteed = True
    for c in containers:
        req, lim = c.resources.requests, c.resources.limits
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or _comparable_quantity(req.get(r, lim[r])) != _comparable_quantity(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _set_qos_class(pod) -> None:
    pod.status.qosClass = qos_class(pod.spec)


def _finished(pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def _grace_period(pod, requested: int | None) -> int | None:
    """A pod on a node is deleted gracefully: its kubelet stops the containers, then deletes it with
    grace 0. Unscheduled or finished pods go at once."""
    if not pod.spec.nodeName or _finished(pod):
        return None
    if requested is not None:
        return requested
    return pod.spec.terminationGracePeriodSeconds if pod.spec.HasField("terminationGracePeriodSeconds") else 30


def _may_remove(pod) -> bool:
    # A pod on a node goes only when its kubelet deletes it with grace 0 (the containers are gone).
    return not pod.spec.nodeName or pod.metadata.deletionGracePeriodSeconds == 0 or _finished(pod)


POD = KindInfo(
    "Pod", "", "v1", "pods", ("po",), True, core_pb2.Pod,
    defaults=_default_pod, validate=validate_pod,
    strategy=Strategy(
        initial_phase="Pending",
        field_selectors={
            "spec.nodeName": lambda o: o.spec.nodeName,
            "spec.restartPolicy": lambda o: o.spec.restartPolicy,
            "spec.schedulerName": lambda o: o.spec.schedulerName,
            "spec.serviceAccountName": lambda o: o.spec.serviceAccountName,
            "status.phase": lambda o: o.status.phase,
            "status.podIP": lambda o: o.status.podIP,
            "status.nominatedNodeName": lambda o: o.status.nominatedNodeName,
        },
        after_create_defaults=_set_qos_class,
        grace_period=_grace_period,
        may_remove=_may_remove,
    ))
