"""The Event kind (core/v1): validation (the reporting fields events.k8s.io and core events
require, reason and message limits) and the involvedObject field selectors `kubectl get events` uses.
Upstream defines no defaults for it.
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.validation_common import Errors, _Errors, _object_meta, _qualified_name


# ---------------------------------------------------------------- validation
_EVENT_REASON_LIMIT = 128
_EVENT_MESSAGE_LIMIT = 1024


def validate_event(ev, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, ev.metadata)
    obj = ev.involvedObject
    if not ev.HasField("involvedObject") or not (obj.kind or obj.name):
        errs.required("involvedObject")
    elif obj.namespace:
        if ev.metadata.namespace and ev.metadata.namespace != obj.namespace:
            errs.invalid("involvedObject.namespace", obj.namespace, "does not match event.namespace")
    elif ev.metadata.namespace not in (("", "default", "kube-system") if ev.eventTime else ("", "default")):
        errs.invalid("involvedObject.namespace", obj.namespace, "does not match event.namespace")
    if len(ev.reason) > _EVENT_REASON_LIMIT:
        errs.invalid("reason", "", f"can have at most {_EVENT_REASON_LIMIT} characters")
    if len(ev.message) > _EVENT_MESSAGE_LIMIT:
        errs.invalid("message", "", f"can have at most {_EVENT_MESSAGE_LIMIT} characters")
    if ev.eventTime:              # a "new" (events.k8s.io-shaped) event: upstream's stricter rules
        if not ev.reportingComponent:
            errs.required("reportingComponent")
        else:
            _qualified_name(errs, "reportingComponent", ev.reportingComponent)
        if not ev.reportingInstance:
            errs.required("reportingInstance")
        elif len(ev.reportingInstance) > 128:
            errs.invalid("reportingInstance", "", "can have at most 128 characters")
        if not ev.action:
            errs.required("action")
        elif len(ev.action) > 128:
            errs.invalid("action", "", "can have at most 128 characters")
        if not ev.reason:
            errs.required("reason")
    if ev.type and ev.type not in ("Normal", "Warning"):
        errs.not_supported("type", ev.type, ("Normal", "Warning"))
    return errs


EVENT = KindInfo(
    "Event", "", "v1", "events", ("ev",), True, core_pb2.Event, has_status=False,
    validate=validate_event,
    strategy=Strategy(field_selectors={
        "involvedObject.kind": lambda o: o.involvedObject.kind,
        "involvedObject.namespace": lambda o: o.involvedObject.namespace,
        "involvedObject.name": lambda o: o.involvedObject.name,
        "involvedObject.uid": lambda o: o.involvedObject.uid,
        "involvedObject.apiVersion": lambda o: o.involvedObject.apiVersion,
        "involvedObject.resourceVersion": lambda o: o.involvedObject.resourceVersion,
        "involvedObject.fieldPath": lambda o: o.involvedObject.fieldPath,
        "reason": lambda o: o.reason,
        "reportingComponent": lambda o: o.reportingComponent,
        "source": lambda o: o.source.component,
        "type": lambda o: o.type,
    }))
