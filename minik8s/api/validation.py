"""Validation: every field error in an API object, worded as the real API server words it.

`validate(obj, old=None)` returns every error as a (field path, message) pair -- ("spec.replicas",
"Invalid value: -1: must be greater than or equal to 0") -- never just the first, by calling the
validation of the object's kind record. Paths use the Kubernetes JSON names, `[i]` for list items, and
for map keys the rule the codec uses: `.key` for a plain key, `[key]` for one holding '.' or '/'.
Messages follow field.ErrorType: "Required value", "Invalid value: <v>: <detail>", "Unsupported
value: ...", "Duplicate value: ...", "Forbidden: ...", "Not found: ...", with values printed the way
Go's %#v prints them.

It expects an object that has been through defaults.apply_defaults, exactly as upstream validates
after defaulting. With `old`, the update rules apply too: immutable selectors, the narrow set of
mutable pod fields, a Service's clusterIP, a Job's template. Checks the server owns are not made here:
metadata namespace presence, and the immutability of name/namespace/uid/creationTimestamp/
resourceVersion.

Where the rules live: the shared helpers (error list, value printing, names, labels, ObjectMeta,
quantities, ports, IPs) in `validation_common`, the pod spec in `podspec_validation`, and each kind's
own rules in its module under `minik8s/api/kinds/`. This module keeps the names callers import.
"""
from __future__ import annotations

from minik8s.api.kinds import UnknownKind, for_message
from minik8s.api.kinds.deployment import validate_deployment
from minik8s.api.kinds.endpoints import validate_endpoints
from minik8s.api.kinds.event import validate_event
from minik8s.api.kinds.horizontalpodautoscaler import validate_horizontal_pod_autoscaler
from minik8s.api.kinds.job import validate_job
from minik8s.api.kinds.lease import validate_lease
from minik8s.api.kinds.namespace import validate_namespace
from minik8s.api.kinds.node import validate_node
from minik8s.api.kinds.persistentvolumeclaim import validate_persistent_volume_claim
from minik8s.api.kinds.pod import validate_pod
from minik8s.api.kinds.poddisruptionbudget import validate_pod_disruption_budget
from minik8s.api.kinds.replicaset import validate_replica_set
from minik8s.api.kinds.service import validate_service
from minik8s.api.podspec_validation import validate_pod_spec
from minik8s.api.validation_common import Errors, format_value

__all__ = [
    "validate", "validate_pod", "validate_replica_set", "validate_deployment", "validate_job",
    "validate_service", "validate_endpoints", "validate_node", "validate_namespace",
    "validate_persistent_volume_claim", "validate_event", "validate_horizontal_pod_autoscaler",
    "validate_pod_disruption_budget", "validate_lease", "validate_pod_spec", "format_value", "Errors",
    "UnknownKind",
]


def validate(obj, old=None) -> Errors:
    """All field errors of `obj` (an API message of any served kind); with `old`, as an update.

    Raises UnknownKind for a message that is not a served kind. A served kind whose record has no
    validation (the read-only metrics kinds) has no errors."""
    info = for_message(obj)
    if info.validate is None:
        return []
    return list(info.validate(obj, old))

