"""Every served kind is described completely by its record: defaults, validation and a write strategy
in minik8s/api/kinds/, table columns in minik8s/api/printing/ and a describer in minictl. A part a kind
lacks on purpose is listed in EXEMPT with the reason; anything else missing fails here, so a new
kind cannot be half added."""
from __future__ import annotations

import pytest

from minik8s.api.kinds import KINDS, POD, KindInfo, Strategy, for_message
from minik8s.api.pb import core_pb2
from minik8s.cli.describe import DESCRIBERS
from minik8s.api.printing import TABLES, Column, KindTable
from apiserver import strategy

_GENERIC_DESCRIBER = "minictl describes it with the generic describer (fields as kubectl prints unknown kinds)"
_READ_ONLY_METRICS = "a read-only usage report with no spec; upstream's metrics API neither defaults nor validates it"

# (kind, part) -> why the kind has none
EXEMPT: dict[tuple[str, str], str] = {
    ("Event", "defaults"): "upstream defines no defaults for core/v1 Event",
    ("PodDisruptionBudget", "defaults"): "upstream defines no defaults for policy/v1 PodDisruptionBudget",
    ("Lease", "defaults"): "upstream defines no defaults for coordination.k8s.io/v1 Lease",
    ("ConfigMap", "defaults"): "upstream defines no defaults for core/v1 ConfigMap",
    ("NodeMetrics", "defaults"): _READ_ONLY_METRICS,
    ("NodeMetrics", "validation"): _READ_ONLY_METRICS,
    ("PodMetrics", "defaults"): _READ_ONLY_METRICS,
    ("PodMetrics", "validation"): _READ_ONLY_METRICS,
    ("Endpoints", "describer"): _GENERIC_DESCRIBER,
    ("PersistentVolumeClaim", "describer"): _GENERIC_DESCRIBER,
    ("PersistentVolume", "describer"): _GENERIC_DESCRIBER,
    ("StorageClass", "describer"): _GENERIC_DESCRIBER,
    ("Event", "describer"): _GENERIC_DESCRIBER,
    ("PodDisruptionBudget", "describer"): _GENERIC_DESCRIBER,
    ("Lease", "describer"): _GENERIC_DESCRIBER,
    ("NodeMetrics", "describer"): _GENERIC_DESCRIBER,
    ("PodMetrics", "describer"): _GENERIC_DESCRIBER,
    ("Role", "defaults"): "upstream defines no defaults for rbac.authorization.k8s.io/v1 Role",
    ("ClusterRole", "defaults"): "upstream defines no defaults for rbac.authorization.k8s.io/v1 ClusterRole",
    ("Role", "describer"): _GENERIC_DESCRIBER,
    ("ClusterRole", "describer"): _GENERIC_DESCRIBER,
    ("RoleBinding", "describer"): _GENERIC_DESCRIBER,
    ("ClusterRoleBinding", "describer"): _GENERIC_DESCRIBER,
    ("ServiceAccount", "defaults"): "upstream defines no defaults for core/v1 ServiceAccount",
    ("ServiceAccount", "describer"): _GENERIC_DESCRIBER,
}


def absent_parts(info: KindInfo, tables=TABLES, describers=DESCRIBERS) -> list[str]:
    """The parts `info` lacks, exempt or not."""
    present = {
        "defaults": info.defaults is not None,
        "validation": info.validate is not None,
        "strategy": isinstance(info.strategy, Strategy),
        "columns": info in tables,
        "describer": info in describers,
    }
    return [part for part, ok in present.items() if not ok]


def missing_parts(info: KindInfo, tables=TABLES, describers=DESCRIBERS, exempt=EXEMPT) -> list[str]:
    """The parts `info` lacks that no exemption explains."""
    return [part for part in absent_parts(info, tables, describers) if (info.kind, part) not in exempt]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_served_kind_has_all_its_parts(kind):
    assert missing_parts(KINDS[kind]) == []


@pytest.mark.parametrize("kind,part", sorted(EXEMPT))
def test_every_exemption_is_still_needed(kind, part):
    assert kind in KINDS, f"{kind} is exempt but not served"
    assert part in absent_parts(KINDS[kind]), f"{kind} has {part} now: drop its exemption"


def test_a_record_lacking_parts_is_reported():
    widget = KindInfo("Widget", "example.com", "v1", "widgets", (), True, core_pb2.Pod, strategy=None)
    assert missing_parts(widget) == ["defaults", "validation", "strategy", "columns", "describer"]

    complete = KindInfo("Widget", "example.com", "v1", "widgets", (), True, core_pb2.Pod,
                        defaults=lambda obj: None, validate=lambda obj, old=None: [])
    tables = {complete: KindTable((Column("Name"),), lambda o, now: [o.metadata.name])}
    assert missing_parts(complete, tables=tables, describers={}) == ["describer"]
    assert missing_parts(complete, tables=tables, describers={complete: lambda *a: None}) == []
    assert missing_parts(complete, tables=tables, describers={},
                         exempt={("Widget", "describer"): "generic"}) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_record_is_found_from_its_message(kind):
    info = KINDS[kind]
    assert for_message(info.message()) is info


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_field_selector_reads_a_string(kind):
    info = KINDS[kind]
    fields = strategy.selectable_fields(info, info.message())
    assert set(fields) == strategy.supported_fields(info)
    assert all(isinstance(v, str) for v in fields.values())


def test_registrations_are_keyed_by_the_record():
    assert [c.name for c in TABLES[POD].columns if c.priority == 0] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert DESCRIBERS[POD].__name__ == "_describe_pod"
    assert all(isinstance(k, KindInfo) for k in (*TABLES, *DESCRIBERS))
