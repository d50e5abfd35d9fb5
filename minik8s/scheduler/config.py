"""The scheduler's configuration: upstream's KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1),
the parts that apply here. Each profile, named by the `schedulerName` pods ask for, starts from the
default plugin set; `plugins.<point>.disabled` removes plugins (`*`: all the defaults), `enabled` adds
them or changes a default's weight in place, and `pluginConfig` passes each plugin its args:

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
    - schedulerName: default-scheduler
      pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: LeastAllocated          # MostAllocated (our default) | RequestedToCapacityRatio
            resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
    - schedulerName: spread-scheduler
      plugins:
        score:
          disabled: [{name: NodeBusyness}]
          enabled: [{name: NodeResourcesBalancedAllocation, weight: 5}]

Our default differs from upstream's in one place, as the design promises: NodeResourcesFit scores with
MostAllocated (bin packing) where upstream uses LeastAllocated (spreading)."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import yaml

DEFAULT_SCHEDULER_NAME = "default-scheduler"
API_VERSION = "kubescheduler.config.k8s.io/v1"

DEFAULT_PLUGINS = {
    # the order filters run in decides which reason a node that fails several reports (upstream's order)
    "filter": ["NodeUnschedulable", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit",
               "VolumeBinding", "InterPodAffinity"],
    "score": [("TaintToleration", 3), ("NodeAffinity", 2), ("NodeResourcesFit", 1),
              ("NodeResourcesBalancedAllocation", 1), ("NodeBusyness", 1)],
    "postFilter": ["DefaultPreemption"],
    "reserve": [],
    "bind": ["DefaultBinder"],
}
DEFAULT_PLUGIN_ARGS = {
    "NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated",
                                             "resources": [{"name": "cpu", "weight": 1},
                                                           {"name": "memory", "weight": 1}]}},
}
EXTENSION_POINTS = tuple(DEFAULT_PLUGINS)


class ConfigError(ValueError):
    pass


@dataclass
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    filter: list[str] = field(default_factory=lambda: list(DEFAULT_PLUGINS["filter"]))
    score: list[tuple[str, int]] = field(default_factory=lambda: list(DEFAULT_PLUGINS["score"]))
    post_filter: list[str] = field(default_factory=lambda: list(DEFAULT_PLUGINS["postFilter"]))
    reserve: list[str] = field(default_factory=list)
    bind: list[str] = field(default_factory=lambda: list(DEFAULT_PLUGINS["bind"]))
    plugin_args: dict[str, dict] = field(default_factory=lambda: copy.deepcopy(DEFAULT_PLUGIN_ARGS))


@dataclass
class SchedulerConfig:
    profiles: list[Profile] = field(default_factory=lambda: [Profile()])
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0


def load_file(path: str) -> SchedulerConfig:
    with open(path) as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: {e}") from None
    try:
        return parse(data or {})
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def parse(data: dict) -> SchedulerConfig:
    if not isinstance(data, dict):
        raise ConfigError("expected a KubeSchedulerConfiguration mapping")
    if data.get("apiVersion", API_VERSION) != API_VERSION:
        raise ConfigError(f'apiVersion: Unsupported value: "{data["apiVersion"]}": supported values: "{API_VERSION}"')
    if data.get("kind", "KubeSchedulerConfiguration") != "KubeSchedulerConfiguration":
        raise ConfigError(f'kind: Unsupported value: "{data["kind"]}"')
    cfg = SchedulerConfig()
    for key, attr in (("podInitialBackoffSeconds", "pod_initial_backoff_seconds"),
                      ("podMaxBackoffSeconds", "pod_max_backoff_seconds")):
        if key in data:
            v = data[key]
            if not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"{key}: Invalid value: {v!r}: must be greater than 0")
            setattr(cfg, attr, float(v))
    profiles = data.get("profiles")
    if profiles is not None:
        if not isinstance(profiles, list) or not profiles:
            raise ConfigError("profiles: Required value: at least one profile")
        cfg.profiles = [_profile(p, i) for i, p in enumerate(profiles)]
        names = [p.scheduler_name for p in cfg.profiles]
        for n in names:
            if names.count(n) > 1:
                raise ConfigError(f'profiles: Duplicate value: "{n}"')
    return cfg


def _profile(data, i: int) -> Profile:
    path = f"profiles[{i}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    prof = Profile(scheduler_name=data.get("schedulerName") or DEFAULT_SCHEDULER_NAME)
    plugins = data.get("plugins") or {}
    for point, spec in plugins.items():
        if point not in EXTENSION_POINTS:
            raise ConfigError(f'{path}.plugins.{point}: Unsupported extension point: supported: '
                              f'{", ".join(EXTENSION_POINTS)}')
        _merge(prof, point, spec or {}, f"{path}.plugins.{point}")
    for j, pc in enumerate(data.get("pluginConfig") or []):
        if not isinstance(pc, dict) or not pc.get("name"):
            raise ConfigError(f"{path}.pluginConfig[{j}].name: Required value")
        args = pc.get("args") or {}
        if not isinstance(args, dict):
            raise ConfigError(f"{path}.pluginConfig[{j}].args: expected a mapping")
        prof.plugin_args[pc["name"]] = args
    return prof


def _names(entries, path: str) -> list[tuple[str, int | None]]:
    out = []
    for k, e in enumerate(entries or []):
        if not isinstance(e, dict) or not e.get("name"):
            raise ConfigError(f"{path}[{k}].name: Required value")
        w = e.get("weight")
        if w is not None and (not isinstance(w, int) or w < 0):
            raise ConfigError(f"{path}[{k}].weight: Invalid value: {w!r}: must be a non-negative integer")
        out.append((e["name"], w))
    return out


def _merge(prof: Profile, point: str, spec: dict, path: str) -> None:
    attr = {"postFilter": "post_filter"}.get(point, point)
    current = getattr(prof, attr)
    scored = point == "score"
    disabled = {n for n, _ in _names(spec.get("disabled"), path + ".disabled")}
    enabled = _names(spec.get("enabled"), path + ".enabled")
    if "*" in disabled:
        current = []
    else:
        current = [c for c in current if (c[0] if scored else c) not in disabled]
    for name, weight in enabled:
        if scored:
            weight = 1 if weight is None or weight == 0 else weight
            existing = [i for i, c in enumerate(current) if c[0] == name]
            if existing:
                current[existing[0]] = (name, weight)
            else:
                current.append((name, weight))
        elif name not in current:
            current.append(name)
    setattr(prof, attr, current)
