"""Discovery: `/api`, `/apis`, `/api/v1`, `/apis/GROUP/VERSION` and `/version`, built from the kind
records, with the verbs, short names and categories kubectl's `api-resources` and `get all` read.
Aggregated discovery is not served: kubectl falls back to these documents."""
from __future__ import annotations

import platform

from minik8s.api import conversion
from minik8s.api.kinds import KINDS, KindInfo

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# Used only when a kind record does not carry categories itself: upstream's `all` category.
_ALL_CATEGORY = {"Pod", "Service", "ReplicaSet", "Deployment", "Job", "CronJob", "HorizontalPodAutoscaler"}
K8S_MINOR = "32"


def _categories(info: KindInfo) -> list[str]:
    cats = getattr(info, "categories", None)
    if cats is not None:
        return list(cats)
    return ["all"] if info.kind in _ALL_CATEGORY else []


def group_versions() -> dict[str, list[str]]:
    """Each group's versions, the stored ones first (the first is the preferred version)."""
    out: dict[str, list[str]] = {}
    for group, version in [(k.group, k.version) for k in KINDS.values()] + \
            [(s.info.group, s.version) for s in conversion.other_versions()]:
        if version not in out.setdefault(group, []):
            out[group].append(version)
    return out


def api_versions(host: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}


def api_group_list() -> dict:
    groups = []
    for group, versions in group_versions().items():
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict | None:
    versions = group_versions().get(group)
    if not group or not versions:
        return None
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs, "preferredVersion": gvs[0]}


def _resource(info: KindInfo) -> list[dict]:
    main = {"name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
            "kind": info.kind, "verbs": VERBS}
    if info.short_names:
        main["shortNames"] = list(info.short_names)
    cats = _categories(info)
    if cats:
        main["categories"] = cats
    subs = [main]
    sub = {"singularName": "", "namespaced": info.namespaced, "kind": info.kind, "verbs": ["get", "patch", "update"]}
    if info.has_status:
        subs.append(dict(sub, name=f"{info.plural}/status"))
    if info.has_scale:
        subs.append(dict(sub, name=f"{info.plural}/scale", group="autoscaling", version="v1", kind="Scale"))
    if info.kind == "Pod":
        subs.append(dict(sub, name="pods/log", verbs=["get"]))
        subs.append(dict(sub, name="pods/exec", kind="PodExecOptions", verbs=["create", "get"]))
        subs.append(dict(sub, name="pods/binding", kind="Binding", verbs=["create"]))
        subs.append(dict(sub, name="pods/eviction", group="policy", version="v1", kind="Eviction",
                         verbs=["create"]))
    if info.kind == "ServiceAccount":
        subs.append(dict(sub, name="serviceaccounts/token", group="authentication.k8s.io", version="v1",
                         kind="TokenRequest", verbs=["create"]))
    return subs


def resource_list(group: str, version: str) -> dict | None:
    kinds = [k for k in KINDS.values() if k.group == group and k.version == version] + \
        [s.info for s in conversion.other_versions() if s.info.group == group and s.version == version]
    if not kinds:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": [r for k in kinds for r in _resource(k)]}


def version(git_version: str) -> dict:
    return {"major": "1", "minor": K8S_MINOR, "gitVersion": f"v1.{K8S_MINOR}.0-minik8s",
            "gitCommit": git_version, "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": f"python{platform.python_version()}", "compiler": "cpython",
            "platform": f"{platform.system().lower()}/{platform.machine()}"}
