"""Mutating admission the API server applies to new objects, after defaulting and before validation.

DefaultTolerationSeconds (upstream plugin/pkg/admission/defaulttolerationseconds): every new pod that
does not already tolerate `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable` with
effect NoExecute gets `{key, operator: Exists, effect: NoExecute, tolerationSeconds: 300}` for each, so
its node's loss evicts it after five minutes rather than at once. The seconds are the server flags
`--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`.

ServiceAccount: a pod's account, its token volume (apiserver/serviceaccount_admission.py)."""
from __future__ import annotations

from dataclasses import dataclass

from minik8s.api.kinds import POD, KindInfo

from apiserver.serviceaccount_admission import ServiceAccountAdmission

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
NO_EXECUTE = "NoExecute"
DEFAULT_TOLERATION_SECONDS = 300


def tolerates_key(tolerations, key: str) -> bool:
    """upstream's test: a toleration of this key (or of every key) for NoExecute (or for every effect),
    whatever its operator."""
    return any(t.key in (key, "") and t.effect in (NO_EXECUTE, "") for t in tolerations)


@dataclass(frozen=True)
class DefaultTolerationSeconds:
    not_ready_seconds: int = DEFAULT_TOLERATION_SECONDS
    unreachable_seconds: int = DEFAULT_TOLERATION_SECONDS

    def admit(self, info: KindInfo, obj) -> None:
        if info is not POD:
            return
        tolerations = obj.spec.tolerations
        for key, seconds in ((NOT_READY, self.not_ready_seconds), (UNREACHABLE, self.unreachable_seconds)):
            if not tolerates_key(tolerations, key):
                tolerations.add(key=key, operator="Exists", effect=NO_EXECUTE, tolerationSeconds=seconds)


class Admission:
    """The admission chain a registry runs on create: each plugin's `admit(info, obj)` in order."""

    def __init__(self, *plugins):
        self.plugins = plugins

    def attach(self, registry) -> None:
        """Give the plugins that read stored objects (ServiceAccount) the registry."""
        for plugin in self.plugins:
            if hasattr(plugin, "registry"):
                plugin.registry = registry

    def admit_create(self, info: KindInfo, obj) -> None:
        for plugin in self.plugins:
            plugin.admit(info, obj)


PLUGINS = ("DefaultTolerationSeconds", "ServiceAccount")


def default_admission(not_ready_seconds: int = DEFAULT_TOLERATION_SECONDS,
                      unreachable_seconds: int = DEFAULT_TOLERATION_SECONDS, disabled=()) -> Admission:
    """The chain with every plugin but those `disabled` (upstream's --disable-admission-plugins)."""
    unknown = set(disabled) - set(PLUGINS)
    if unknown:
        raise ValueError(f"unknown admission plugins: {', '.join(sorted(unknown))} (known: {', '.join(PLUGINS)})")
    plugins = []
    if "DefaultTolerationSeconds" not in disabled:
        plugins.append(DefaultTolerationSeconds(not_ready_seconds, unreachable_seconds))
    if "ServiceAccount" not in disabled:
        plugins.append(ServiceAccountAdmission())
    return Admission(*plugins)
