"""The server's side of a kind's write strategy (upstream's registry strategies): what it resets on
create, which field selectors a kind supports, and the values they read from an object. The rules
themselves are the kind record's (`KindInfo.strategy`, built in the kind's module under
minik8s/api/kinds/); nothing here names a kind."""
from __future__ import annotations

from minik8s.api.kinds import KINDS, KindInfo

_META_FIELDS = ("metadata.name", "metadata.namespace")


def selectable_fields(info: KindInfo, obj) -> dict[str, str]:
    out = {"metadata.name": obj.metadata.name, "metadata.namespace": obj.metadata.namespace}
    for name, get in info.strategy.field_selectors.items():
        out[name] = get(obj)
    return out


def supported_fields(kind: str | KindInfo) -> set[str]:
    info = KINDS[kind] if isinstance(kind, str) else kind
    return {*_META_FIELDS, *info.strategy.field_selectors}


def prepare_for_create(info: KindInfo, obj) -> None:
    """Reset what a client may not set on create (upstream PrepareForCreate)."""
    if not info.has_status:
        return
    if info.strategy.reset_status_on_create:
        obj.ClearField("status")
    if info.strategy.initial_phase:
        obj.status.phase = info.strategy.initial_phase
    obj.metadata.generation = 1


def generation_changed(info: KindInfo, new, old) -> bool:
    """Whether an update moves metadata.generation: only kinds with status track it."""
    gen = info.strategy.generation_from
    return info.has_status and gen(new) != gen(old)
