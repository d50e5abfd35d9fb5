"""The Namespace kind (core/v1): the `kubernetes.io/metadata.name` label and the `kubernetes`
finalizer (added on create only), validation, the `Active` phase on create, and the delete rule: a
Namespace takes every object in it away with it.
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.validation_common import Errors, _Errors, _finalizer_name, _name_dns_label, _object_meta


# ---------------------------------------------------------------- defaults
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _default_namespace(ns) -> None:
    if ns.metadata.name:
        ns.metadata.labels[NAMESPACE_NAME_LABEL] = ns.metadata.name
    if not ns.status.phase:
        ns.status.phase = "Active"
    # The registry adds the `kubernetes` finalizer on create only: the namespace controller removes
    # it later with an update, which must not put it back. Only a namespace never stored lacks a uid
    # (the server assigns it after defaulting a create, and carries it over before defaulting an update).
    if not ns.metadata.uid and not ns.metadata.deletionTimestamp \
            and "kubernetes" not in ns.spec.finalizers:
        ns.spec.finalizers.append("kubernetes")


# ---------------------------------------------------------------- validation
def validate_namespace(ns, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, ns.metadata, _name_dns_label)
    for f in ns.spec.finalizers:
        _finalizer_name(errs, "spec.finalizers", f, "spec.finalizers")
    if old is not None and ns.status.phase and ns.status.phase not in ("Active", "Terminating"):
        errs.not_supported("status.phase", ns.status.phase, ("Active", "Terminating"))
    return errs


NAMESPACE = KindInfo(
    "Namespace", "", "v1", "namespaces", ("ns",), False, core_pb2.Namespace,
    defaults=_default_namespace, validate=validate_namespace,
    strategy=Strategy(initial_phase="Active", field_selectors={"status.phase": lambda o: o.status.phase},
                      removes_namespace_contents=True))
