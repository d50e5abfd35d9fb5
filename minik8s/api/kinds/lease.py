"""The Lease kind (coordination.k8s.io/v1): validation of its spec. No defaults, no status."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import coordination_pb2
from minik8s.api.validation_common import Errors, _Errors, _object_meta, _opt


# ---------------------------------------------------------------- validation
def validate_lease(lease, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, lease.metadata)
    spec = lease.spec
    duration = _opt(spec, "leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    transitions = _opt(spec, "leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
    strategy = _opt(spec, "strategy")
    if strategy is not None and strategy not in ("OldestEmulationVersion",):
        errs.not_supported("spec.strategy", strategy, ["OldestEmulationVersion"])
    if _opt(spec, "preferredHolder") and not strategy:
        errs.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")
    return errs


LEASE = KindInfo("Lease", "coordination.k8s.io", "v1", "leases", (), True, coordination_pb2.Lease,
                 has_status=False, validate=validate_lease)
