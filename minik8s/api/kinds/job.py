"""The Job kind (batch/v1): its defaults, the selector and pod labels generated from its uid
(upstream generateSelector, done by the server before validating a create), validation with the
update rules, and the `status.successful` field selector.
Not defaulted: a Job's manualSelector (upstream 1.30+ defaults it to false; we leave it unset).
"""
from __future__ import annotations

import re

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import batch_pb2
from minik8s.api.podspec_defaults import _default_pod_template
from minik8s.api.podspec_validation import _pod_template, _selector_immutable
from minik8s.api.selectors import SelectorError, validate_dns1123_label
from minik8s.api.validation_common import (_as_selector, _c, _dns_subdomain, Errors, _Errors, _fmt_selector,
                                           _ix, _key, _label_selector, _object_meta, _opt, _qualified_name,
                                           _quote, _Raw, _regex_error)


# ---------------------------------------------------------------- defaults
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
_INT32_MAX = 2**31 - 1


def _default_job(job) -> None:
    spec = job.spec
    if not spec.HasField("completions") and not spec.HasField("parallelism"):
        spec.completions = 1
        spec.parallelism = 1
    if not spec.HasField("parallelism"):
        spec.parallelism = 1
    if not spec.HasField("backoffLimit"):
        spec.backoffLimit = _INT32_MAX if spec.HasField("backoffLimitPerIndex") else 6
    if spec.template.metadata.labels and not job.metadata.labels:
        job.metadata.labels.update(spec.template.metadata.labels)
    if not spec.HasField("completionMode"):
        spec.completionMode = "NonIndexed"
    if not spec.HasField("suspend"):
        spec.suspend = False
    if spec.HasField("podFailurePolicy"):
        for rule in spec.podFailurePolicy.rules:
            for pattern in rule.onPodConditions:
                if not pattern.status:
                    pattern.status = "True"
    if not spec.HasField("podReplacementPolicy"):
        spec.podReplacementPolicy = "Failed" if spec.HasField("podFailurePolicy") else "TerminatingOrFailed"
    _default_pod_template(spec.template)


def default_job_selector(job) -> None:
    """Generate a Job's selector and pod-template labels from its uid (upstream generateSelector).

    The server calls this on create, after assigning metadata.uid and before validating. Nothing is
    done when spec.manualSelector is true. Labels the user already set are kept; validation then
    rejects them if they disagree with the uid or name."""
    spec = job.spec
    if spec.HasField("manualSelector") and spec.manualSelector:
        return
    labels = spec.template.metadata.labels
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        if key not in labels:
            labels[key] = job.metadata.name
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        if key not in labels:
            labels[key] = job.metadata.uid
    spec.selector.SetInParent()
    if CONTROLLER_UID_LABEL not in spec.selector.matchLabels:
        spec.selector.matchLabels[CONTROLLER_UID_LABEL] = job.metadata.uid


# ---------------------------------------------------------------- validation
_JOB_LABELS = ("controller-uid", "job-name", "batch.kubernetes.io/controller-uid",
               "batch.kubernetes.io/job-name")
_POD_FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
_PENDING_UID = "00000000-0000-0000-0000-000000000000"


def validate_job(job, old=None) -> Errors:
    """ValidateJob / ValidateJobUpdate.

    A Job created without a uid yet (the server may validate before assigning it) is checked as it will
    be stored: with defaults.default_job_selector applied for a stand-in uid."""
    if old is None and not job.metadata.uid and not (job.spec.HasField("manualSelector")
                                                     and job.spec.manualSelector):
        pending = type(job)()
        pending.CopyFrom(job)
        pending.metadata.uid = _PENDING_UID
        default_job_selector(pending)
        job = pending
    errs = _Errors()
    _object_meta(errs, job.metadata)
    spec = job.spec
    if old is None:
        _job_generated_selector(errs, job)
    _job_spec(errs, job)
    completions = _opt(spec, "completions")
    if old is None and spec.completionMode == "Indexed" and completions is not None and completions > 0:
        hostname = f"{job.metadata.name}-{spec.completions - 1}"
        if validate_dns1123_label(hostname):
            errs.invalid("metadata.name", job.metadata.name,
                         f"will not able to create pod with invalid DNS label: {hostname}")
    if old is not None:
        _job_update(errs, job, old)
    return errs


def _job_generated_selector(errs: _Errors, job) -> None:
    """validateGeneratedSelector: the uid-based selector and labels default_job_selector adds."""
    spec = job.spec
    if spec.HasField("manualSelector") and spec.manualSelector:
        return
    if not spec.HasField("selector"):
        return
    uid, name = job.metadata.uid, job.metadata.name
    if not uid:
        errs.required("metadata.uid")
    labels = spec.template.metadata.labels
    expected = {"controller-uid": uid, "job-name": name, "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name}
    for key in _JOB_LABELS:
        path = _key("spec.template.metadata.labels", key)
        if key not in labels:
            errs.required(path, f"must be '{expected[key]}'")
        elif labels[key] != expected[key]:
            errs.invalid(path, dict(labels), f"must be '{expected[key]}'")
    try:
        if not _as_selector(spec.selector).matches(expected):
            errs.invalid("spec.selector", _fmt_selector(spec.selector), "`selector` not auto-generated")
    except SelectorError:
        pass


def _job_spec(errs: _Errors, job) -> None:
    spec = job.spec
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                 "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        v = _opt(spec, name)
        if v is not None:
            errs.nonnegative(_c("spec", name), v)
    if spec.HasField("maxFailedIndexes") and not spec.HasField("backoffLimitPerIndex"):
        errs.required("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified")
    if spec.HasField("managedBy"):
        _domain_prefixed_path(errs, "spec.managedBy", spec.managedBy)
        if len(spec.managedBy) > 63:
            errs.too_long("spec.managedBy", 63)
    mode = _opt(spec, "completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.not_supported("spec.completionMode", mode, ("NonIndexed", "Indexed"))
        if mode == "Indexed":
            if not spec.HasField("completions"):
                errs.required("spec.completions", "when completion mode is Indexed")
            if _opt(spec, "parallelism") is not None and spec.parallelism > 100000:
                errs.invalid("spec.parallelism", spec.parallelism,
                             "must be less than or equal to 100000 when completion mode is Indexed")
            if spec.HasField("completions") and spec.HasField("maxFailedIndexes") \
                    and spec.maxFailedIndexes > spec.completions:
                errs.invalid("spec.maxFailedIndexes", spec.maxFailedIndexes,
                             "must be less than or equal to completions")
    if mode is None or mode == "NonIndexed":
        for name in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.HasField(name):
                errs.invalid(_c("spec", name), getattr(spec, name), "requires indexed completion mode")
    if spec.HasField("podFailurePolicy"):
        _pod_failure_policy(errs, spec)
    if spec.HasField("successPolicy"):
        if mode != "Indexed":
            errs.invalid("spec.successPolicy", _Raw("batch.SuccessPolicy{...}"), "requires indexed completion mode")
        else:
            _success_policy(errs, spec)
    if spec.HasField("podReplacementPolicy"):
        if spec.HasField("podFailurePolicy"):
            if spec.podReplacementPolicy != "Failed":
                errs.not_supported("spec.podReplacementPolicy", spec.podReplacementPolicy, ["Failed"])
        elif spec.podReplacementPolicy not in ("Failed", "TerminatingOrFailed"):
            errs.not_supported("spec.podReplacementPolicy", spec.podReplacementPolicy,
                               ("Failed", "TerminatingOrFailed"))
    _pod_template(errs, spec.template, "spec.template")
    restart = spec.template.spec.restartPolicy
    rp_path = "spec.template.spec.restartPolicy"
    if restart in ("Always", ""):
        errs.required(rp_path, 'valid values: "OnFailure", "Never"')
    elif restart not in ("OnFailure", "Never"):
        errs.not_supported(rp_path, restart, ("OnFailure", "Never"))
    elif spec.HasField("podFailurePolicy") and restart != "Never":
        errs.invalid(rp_path, restart, 'only "Never" is supported when podFailurePolicy is specified')
    selector = spec.selector if spec.HasField("selector") else None
    if selector is None:
        errs.required("spec.selector")
    else:
        _label_selector(errs, "spec.selector", selector)
    try:
        sel = _as_selector(selector)
    except SelectorError:
        return
    if not sel.matches(dict(spec.template.metadata.labels)):
        errs.invalid("spec.template.metadata.labels", dict(spec.template.metadata.labels),
                     "`selector` does not match template `labels`")


def _domain_prefixed_path(errs: _Errors, path: str, value: str) -> None:
    if not value:
        errs.required(path)
        return
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        errs.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')
        return
    _dns_subdomain(errs, path, host)
    fmt = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
    if not re.fullmatch(fmt, rest):
        errs.invalid(path, rest, _regex_error("Invalid path", fmt))


def _pod_failure_policy(errs: _Errors, spec) -> None:
    rules_path = "spec.podFailurePolicy.rules"
    rules = spec.podFailurePolicy.rules
    if len(rules) > 20:
        errs.too_many(rules_path, len(rules), 20)
    containers = {c.name for c in spec.template.spec.containers} | \
                 {c.name for c in spec.template.spec.initContainers}
    for i, rule in enumerate(rules):
        p = _ix(rules_path, i)
        if not rule.action:
            errs.required(_c(p, "action"), "valid values: " + "[" + " ".join(
                _quote(a) for a in _POD_FAILURE_ACTIONS) + "]")
        elif rule.action == "FailIndex":
            if not spec.HasField("backoffLimitPerIndex"):
                errs.invalid(_c(p, "action"), rule.action, "requires the backoffLimitPerIndex to be set")
        elif rule.action not in _POD_FAILURE_ACTIONS:
            errs.not_supported(_c(p, "action"), rule.action, _POD_FAILURE_ACTIONS)
        has_codes = rule.HasField("onExitCodes")
        if has_codes:
            _on_exit_codes(errs, rule.onExitCodes, _c(p, "onExitCodes"), containers)
        if rule.onPodConditions:
            cp = _c(p, "onPodConditions")
            if len(rule.onPodConditions) > 20:
                errs.too_many(cp, len(rule.onPodConditions), 20)
            for j, pattern in enumerate(rule.onPodConditions):
                pp = _ix(cp, j)
                _qualified_name(errs, _c(pp, "type"), pattern.type)
                if not pattern.status:
                    errs.required(_c(pp, "status"), 'valid values: ["False" "True" "Unknown"]')
                elif pattern.status not in ("False", "True", "Unknown"):
                    errs.not_supported(_c(pp, "status"), pattern.status, ("False", "True", "Unknown"))
        if has_codes and rule.onPodConditions:
            errs.append((p, "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"))
        if not has_codes and not rule.onPodConditions:
            errs.append((p, "Invalid value: specifying one of OnExitCodes and OnPodConditions is required"))


def _on_exit_codes(errs: _Errors, req, path: str, containers: set) -> None:
    if not req.operator:
        errs.required(_c(path, "operator"), 'valid values: ["In" "NotIn"]')
    elif req.operator not in ("In", "NotIn"):
        errs.not_supported(_c(path, "operator"), req.operator, ("In", "NotIn"))
    if req.HasField("containerName") and req.containerName not in containers:
        errs.invalid(_c(path, "containerName"), req.containerName,
                     "must be one of the container or initContainer names in the pod template")
    vp = _c(path, "values")
    values = list(req.values)
    if not values:
        errs.invalid(vp, _Raw("[]int32(nil)"), "at least one value is required")
    elif len(values) > 255:
        errs.too_many(vp, len(values), 255)
    seen: set = set()
    for j, v in enumerate(values):
        if req.operator == "In" and v == 0:
            errs.invalid(_ix(vp, j), v, "must not be 0 for the In operator")
        if v in seen:
            errs.duplicate(_ix(vp, j), v)
        seen.add(v)
    if any(a > b for a, b in zip(values, values[1:])):
        errs.invalid(vp, values, "must be ordered")


def _success_policy(errs: _Errors, spec) -> None:
    rules_path = "spec.successPolicy.rules"
    rules = spec.successPolicy.rules
    if not rules:
        errs.required(rules_path, "at least one rules must be specified when the successPolicy is specified")
    if len(rules) > 20:
        errs.too_many(rules_path, len(rules), 20)
    completions = spec.completions
    for i, rule in enumerate(rules):
        p = _ix(rules_path, i)
        if not rule.HasField("succeededCount") and not rule.HasField("succeededIndexes"):
            errs.required(p, "at least one of succeededCount or succeededIndexes must be specified")
        total = None
        if rule.HasField("succeededIndexes"):
            total, err = _parse_indexes(rule.succeededIndexes, completions)
            if err:
                errs.invalid(_c(p, "succeededIndexes"), rule.succeededIndexes,
                             f"error parsing succeededIndexes: {err}")
        if rule.HasField("succeededCount"):
            cp = _c(p, "succeededCount")
            errs.nonnegative(cp, rule.succeededCount)
            if rule.succeededCount > completions:
                errs.invalid(cp, rule.succeededCount,
                             f"must be less than or equal to {completions} (the number of specified completions)")
            if total is not None and rule.succeededCount > total:
                errs.invalid(cp, rule.succeededCount, f"must be less than or equal to {total} (the number "
                             "of indexes in the specified succeededIndexes field)")


def _parse_indexes(text: str, completions: int):
    """validateIndexesFormat: "1,3-5,7" -> (count, error)."""
    total, prev = 0, -1
    for part in text.split(",") if text else []:
        lo_s, sep, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError:
            return None, f"cannot convert string to integer for index: \"{part}\""
        if lo < 0 or hi >= completions:
            return None, f"too large index: \"{part}\""
        if lo > hi:
            return None, f"non-increasing order, previous: {lo}, current: {hi}"
        if lo <= prev:
            return None, f"non-increasing order, previous: {prev}, current: {lo}"
        total += hi - lo + 1
        prev = hi
    return total, None


def _job_update(errs: _Errors, job, old) -> None:
    spec, old_spec = job.spec, old.spec
    indexed = spec.completionMode == "Indexed"
    if not indexed:
        errs.immutable("spec.completions", _opt(spec, "completions"), _opt(old_spec, "completions"))
    elif _opt(spec, "completions") != _opt(old_spec, "completions") and spec.HasField("completions"):
        if spec.completions != _opt(spec, "parallelism"):
            errs.invalid("spec.completions", spec.completions, "can only be modified in tandem with spec.parallelism")
    _selector_immutable(errs, spec, old_spec)
    # A suspended Job that never started may change its scheduling directives (upstream
    # AllowMutableSchedulingDirectives); the rest of the template is immutable.
    new_t, old_t = type(spec.template)(), type(old_spec.template)()
    new_t.CopyFrom(spec.template)
    old_t.CopyFrom(old_spec.template)
    if old_spec.HasField("suspend") and old_spec.suspend and not old.status.startTime:
        for t in (new_t, old_t):
            t.metadata.ClearField("labels")
            t.metadata.ClearField("annotations")
            t.spec.ClearField("nodeSelector")
            t.spec.ClearField("tolerations")
            if t.spec.HasField("affinity"):
                t.spec.affinity.ClearField("nodeAffinity")
                if not t.spec.affinity.ListFields():
                    t.spec.ClearField("affinity")
    if new_t != old_t:
        errs.invalid("spec.template", _Raw("core.PodTemplateSpec{...}"), "field is immutable")
    for name, shown in (("completionMode", None), ("podFailurePolicy", _Raw("&batch.PodFailurePolicy{...}")),
                        ("backoffLimitPerIndex", None), ("managedBy", None),
                        ("successPolicy", _Raw("&batch.SuccessPolicy{...}"))):
        new_v, old_v = _opt(spec, name), _opt(old_spec, name)
        errs.immutable(_c("spec", name), new_v, old_v, shown)


JOB = KindInfo(
    "Job", "batch", "v1", "jobs", (), True, batch_pb2.Job,
    defaults=_default_job, validate=validate_job,
    # upstream generates a Job's selector from its uid before validating it
    strategy=Strategy(before_create_defaults=default_job_selector,
                      field_selectors={"status.successful": lambda o: str(o.status.succeeded)}))
