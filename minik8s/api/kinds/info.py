"""The record that describes one API kind: its names and protobuf message, and the rules the server
applies to it -- defaults, validation and a write strategy. Each kind module builds its record once;
the server, the codec and minictl find everything about a kind through it, never by its name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping


def spec_bytes(obj) -> bytes:
    """The bytes whose change bumps metadata.generation: spec, or everything but metadata and status
    for kinds without a spec field."""
    if "spec" in obj.DESCRIPTOR.fields_by_name:
        return obj.spec.SerializeToString(deterministic=True)
    copy = type(obj)()
    copy.CopyFrom(obj)
    copy.ClearField("metadata")
    return copy.SerializeToString(deterministic=True)


def _always(obj) -> bool:
    return True


@dataclass(frozen=True)
class Strategy:
    """How the server writes a kind, after upstream's registry strategies. Every hook is optional;
    the defaults are what a plain kind needs."""

    # PrepareForCreate: whether a create clears the status a client sent (a Node keeps the status its
    # kubelet registers with), and the phase a new object starts in
    reset_status_on_create: bool = True
    initial_phase: str = ""
    # the part of an object whose change bumps metadata.generation
    generation_from: Callable[[object], bytes] = spec_bytes
    # field selector name -> getter(obj) -> str, beyond metadata.name/namespace which every kind has
    field_selectors: Mapping[str, Callable[[object], str]] = field(default_factory=dict)
    # create only: before defaulting (a Job's generated selector) and after it (a Pod's QoS class)
    before_create_defaults: Callable[[object], None] | None = None
    after_create_defaults: Callable[[object], None] | None = None
    # allocate(stored objects of the kind, obj, old or None, service_cidr): fills in what the server
    # hands out from a shared range (a Service's ClusterIP and NodePorts); raises Invalid when it cannot
    allocate: Callable | None = None
    # grace_period(obj, requested seconds or None) -> seconds, or None to delete at once
    grace_period: Callable[[object, int | None], int | None] | None = None
    # whether an object marked for deletion with no finalizers left may go now
    may_remove: Callable[[object], bool] = _always
    # deleting an object of this kind (a Namespace) deletes every namespaced object in it
    removes_namespace_contents: bool = False


@dataclass(frozen=True)
class KindInfo:
    kind: str
    group: str
    version: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    message: type
    has_status: bool = True
    # defaults(obj): upstream's defaulting, in place and idempotent; None where upstream has none
    defaults: Callable[[object], None] | None = field(default=None, compare=False, repr=False)
    # validate(obj, old=None) -> [(field path, message)]; with `old`, the update rules too
    validate: Callable[..., list] | None = field(default=None, compare=False, repr=False)
    strategy: Strategy = field(default=Strategy(), compare=False, repr=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_scale(self) -> bool:
        """Whether the kind serves the scale subresource: namespaced, its spec has replicas and a selector."""
        spec = self.message.DESCRIPTOR.fields_by_name.get("spec")
        fields = spec.message_type.fields_by_name if spec is not None and spec.message_type else {}
        return self.namespaced and "replicas" in fields and "selector" in fields

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def resource(self) -> str:
        """kubectl's name for the kind in messages: `deployment.apps`, `pod`."""
        return f"{self.singular}.{self.group}" if self.group else self.singular
