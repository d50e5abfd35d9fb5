"""The scheduler configuration: defaults (MostAllocated), profiles by schedulerName, plugins enabled,
disabled and re-weighted, plugin args, and the errors a bad file gives."""
from __future__ import annotations

import pytest

from minik8s.scheduler.config import ConfigError, parse
from schedtest import framework

HEAD = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


def test_defaults():
    (prof,) = parse({}).profiles
    assert prof.scheduler_name == "default-scheduler"
    assert prof.filter == ["NodeUnschedulable", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit",
                           "VolumeBinding", "InterPodAffinity"]
    assert dict(prof.score) == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1,
                                "NodeResourcesBalancedAllocation": 1, "NodeBusyness": 1}
    assert prof.plugin_args["NodeResourcesFit"]["scoringStrategy"]["type"] == "MostAllocated"
    assert framework(prof).plugins["NodeResourcesFit"].strategy == "MostAllocated"


def test_profiles_plugins_and_args():
    cfg = parse({**HEAD, "podMaxBackoffSeconds": 5, "profiles": [
        {"schedulerName": "default-scheduler",
         "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "LeastAllocated"}}}]},
        {"schedulerName": "gpu-packer",
         "plugins": {"score": {"disabled": [{"name": "NodeBusyness"}],
                               "enabled": [{"name": "NodeResourcesFit", "weight": 5}]},
                     "filter": {"disabled": [{"name": "NodePorts"}]}}},
        {"schedulerName": "bare", "plugins": {"score": {"disabled": [{"name": "*"}],
                                                        "enabled": [{"name": "NodeAffinity"}]}}},
    ]})
    assert cfg.pod_max_backoff_seconds == 5
    spread, packer, bare = cfg.profiles
    assert framework(spread).plugins["NodeResourcesFit"].strategy == "LeastAllocated"
    assert ("NodeResourcesFit", 5) in packer.score and "NodeBusyness" not in dict(packer.score)
    assert "NodePorts" not in packer.filter
    assert bare.score == [("NodeAffinity", 1)]


@pytest.mark.parametrize("data, message", [
    ({"apiVersion": "kubescheduler.config.k8s.io/v1beta3"}, "apiVersion: Unsupported value"),
    ({"profiles": []}, "at least one profile"),
    ({"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]}, 'Duplicate value: "a"'),
    ({"profiles": [{"plugins": {"permit": {}}}]}, "Unsupported extension point"),
    ({"profiles": [{"plugins": {"score": {"enabled": [{"weight": 2}]}}}]}, "enabled[0].name: Required value"),
    ({"profiles": [{"plugins": {"score": {"enabled": [{"name": "X", "weight": -1}]}}}]}, "non-negative"),
    ({"podInitialBackoffSeconds": 0}, "must be greater than 0"),
])
def test_errors(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(data)


def test_unknown_plugin_is_refused_when_the_profile_is_built():
    (prof,) = parse({"profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]}).profiles
    with pytest.raises(ValueError, match="unknown plugin 'Nope'"):
        framework(prof)
