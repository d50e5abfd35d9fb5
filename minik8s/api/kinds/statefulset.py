"""The StatefulSet kind (apps/v1, `sts`): upstream's defaults (OrderedReady, RollingUpdate with
partition 0, history limit 10, claims retained) and validation after ValidateStatefulSet (selector and
template, policies, claim templates, and which spec fields an update may change)."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.kinds.persistentvolumeclaim import _default_pvc, validate_persistent_volume_claim
from minik8s.api.pb import apps_pb2
from minik8s.api.podspec_defaults import _default_pod_template
from minik8s.api.podspec_validation import _pod_template, workload_selector
from minik8s.api.validation_common import (_c, _ix, Errors, _Errors,
                                           _object_meta)

POLICIES = ("OrderedReady", "Parallel")
UPDATE_STRATEGIES = ("RollingUpdate", "OnDelete")
RETENTION = ("Retain", "Delete")
# the spec fields an update may change (upstream's message lists them)
_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds")


# ---------------------------------------------------------------- defaults
def _default_stateful_set(sts) -> None:
    spec = sts.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    if not spec.podManagementPolicy:
        spec.podManagementPolicy = "OrderedReady"
    if not spec.updateStrategy.type:
        spec.updateStrategy.type = "RollingUpdate"
    if spec.updateStrategy.type == "RollingUpdate" and not spec.updateStrategy.rollingUpdate.HasField("partition"):
        spec.updateStrategy.rollingUpdate.partition = 0
    if not spec.HasField("revisionHistoryLimit"):
        spec.revisionHistoryLimit = 10
    policy = spec.persistentVolumeClaimRetentionPolicy
    policy.whenDeleted = policy.whenDeleted or "Retain"
    policy.whenScaled = policy.whenScaled or "Retain"
    for claim in spec.volumeClaimTemplates:
        _default_pvc(claim)
    _default_pod_template(spec.template)


# ---------------------------------------------------------------- validation
def validate_stateful_set(sts, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, sts.metadata)
    spec = sts.spec
    if spec.podManagementPolicy not in POLICIES:
        errs.not_supported("spec.podManagementPolicy", spec.podManagementPolicy, POLICIES)
    _update_strategy(errs, spec.updateStrategy)
    policy = spec.persistentVolumeClaimRetentionPolicy
    for name in ("whenDeleted", "whenScaled"):
        if getattr(policy, name) not in RETENTION:
            errs.not_supported(_c("spec.persistentVolumeClaimRetentionPolicy", name), getattr(policy, name),
                               RETENTION)
    errs.nonnegative("spec.replicas", spec.replicas)
    errs.nonnegative("spec.minReadySeconds", spec.minReadySeconds)
    errs.nonnegative("spec.ordinals.start", spec.ordinals.start)
    _selector_and_template(errs, spec)
    for i, claim in enumerate(spec.volumeClaimTemplates):
        for path, msg in validate_persistent_volume_claim(claim):
            errs.append((_c(_ix("spec.volumeClaimTemplates", i), path), msg))
    if old is not None:
        _update_rules(errs, spec, old.spec)
    return errs


def _update_strategy(errs: _Errors, strategy) -> None:
    if strategy.type == "OnDelete":
        if strategy.HasField("rollingUpdate"):
            errs.invalid("spec.updateStrategy.rollingUpdate", "",
                         "only allowed for updateStrategy 'RollingUpdate'")
    elif strategy.type == "RollingUpdate":
        errs.nonnegative("spec.updateStrategy.rollingUpdate.partition", strategy.rollingUpdate.partition)
    else:
        errs.not_supported("spec.updateStrategy.type", strategy.type, UPDATE_STRATEGIES)


def _selector_and_template(errs: _Errors, spec) -> None:
    if not workload_selector(errs, spec, "statefulset"):
        return
    # the claim templates are volumes of every pod: a mount may name one
    template = type(spec.template)()
    template.CopyFrom(spec.template)
    for claim in spec.volumeClaimTemplates:
        v = template.spec.volumes.add(name=claim.metadata.name)
        v.persistentVolumeClaim.claimName = claim.metadata.name
    _pod_template(errs, template, "spec.template")
    if spec.template.spec.restartPolicy != "Always":
        errs.not_supported("spec.template.spec.restartPolicy", spec.template.spec.restartPolicy, ["Always"])
    if spec.template.spec.HasField("activeDeadlineSeconds"):
        errs.forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in StatefulSet is not Supported")


def _update_rules(errs: _Errors, spec, old_spec) -> None:
    new, prev = type(spec)(), type(spec)()
    new.CopyFrom(spec)
    prev.CopyFrom(old_spec)
    for name in _MUTABLE:
        new.ClearField(name)
        prev.ClearField(name)
    if new != prev:
        errs.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                               "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                               "'minReadySeconds' are forbidden")


STATEFUL_SET = KindInfo("StatefulSet", "apps", "v1", "statefulsets", ("sts",), True, apps_pb2.StatefulSet,
                        defaults=_default_stateful_set, validate=validate_stateful_set)
