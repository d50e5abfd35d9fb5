"""Defaulting: the values the API server fills in before it validates and stores an object.

`apply_defaults(obj)` runs the defaulting of the object's kind record, in place; every kind's defaults
are idempotent, so the server may call it on every create and update. What upstream spreads over
pkg/apis/*/v1/defaults.go lives beside each kind under `minik8s/api/kinds/` (SetDefaults_Service in
kinds/service.py, _Job in kinds/job.py, ...), the pod spec defaults shared by Pod and every template
in `podspec_defaults`, as do the few defaults upstream applies in a registry strategy rather than in
defaults.go (a Namespace's `kubernetes` finalizer, the Service clusterIP/clusterIPs pairing, a Job's
generated selector). This module keeps the names callers import.

Not defaulted anywhere, deliberately: pod and container securityContext, Service ipFamilies/
ipFamilyPolicy and clusterIP allocation (the server's allocation hook owns those), a Job's
manualSelector, and anything behind alpha feature gates.
"""
from __future__ import annotations

from minik8s.api.kinds import for_message
from minik8s.api.kinds.job import (CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL,
                                   LEGACY_JOB_NAME_LABEL, default_job_selector)
from minik8s.api.kinds.namespace import NAMESPACE_NAME_LABEL
from minik8s.api.podspec_defaults import (DEFAULT_SCHEDULER_NAME, DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
                                          canonical_quantity)

__all__ = ["apply_defaults", "default_job_selector", "canonical_quantity",
           "CONTROLLER_UID_LABEL", "JOB_NAME_LABEL", "LEGACY_CONTROLLER_UID_LABEL",
           "LEGACY_JOB_NAME_LABEL", "NAMESPACE_NAME_LABEL", "DEFAULT_SCHEDULER_NAME",
           "DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS"]


def apply_defaults(obj) -> None:
    """Fill in upstream's defaults for `obj` (any served kind), in place."""
    defaults = for_message(obj).defaults
    if defaults is not None:
        defaults(obj)
