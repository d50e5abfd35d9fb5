"""Node groups and the autoscaler's decisions without a cluster: the cluster file's `nodeGroups` and
`clusterAutoscaler` checked field by field, the shared fit rules, scale-up planning (upstream's
acceptance cases, the expanders, a GPU group from zero) and the scale-down blockers."""
from __future__ import annotations

import pytest

from minik8s.api import codec
from minik8s.api.nodefit import NodeShape, fit_reasons
from minik8s.api.nodegroups import (AUTOSCALER_DEFAULTS, GROUP_LABEL, NodeGroupError, parse_autoscaler_settings,
                                    parse_node_groups)
from minik8s.api.pb import core_pb2, policy_pb2
from minik8s.autoscaler.scaledown import blocker
from minik8s.autoscaler.scaleup import choose, not_triggered_message, plan, still_pending
from minik8s.autoscaler.simulator import utilization


def group(name="g", min_=0, max_=10, cpu="4", memory="8Gi", **template):
    entry = {"name": name, "min": min_, "max": max_, "template": {"cpu": cpu, "memory": memory, **template}}
    return parse_node_groups([entry])[0]


def pod(name="p", cpu=None, memory=None, gpu=None, owner="ReplicaSet", annotations=None, **spec):
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory), ("nvidia.com/gpu", gpu)) if v}
    meta = {"name": name, "namespace": "default", "annotations": annotations or {}, "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner, "name": "o", "uid": "u", "controller": True}]
    return codec.from_dict(core_pb2.Pod, {"metadata": meta, "spec": {
        "containers": [{"name": "c", "image": "i", "resources": {"requests": requests}}], **spec}})


@pytest.mark.parametrize("entry, error", [
    ({"name": "g", "min": 3, "max": 1, "template": {"cpu": "1", "memory": "1Gi"}},
     "nodeGroups[0].min: Invalid value: 3: must be less than or equal to max (1)"),
    ({"name": "g", "template": {"cpu": "1", "memory": "1Gi"}}, "nodeGroups[0].max: Required value"),
    ({"name": "g", "max": 0, "template": {"cpu": "1", "memory": "1Gi"}}, "nodeGroups[0].max: Invalid value: 0"),
    ({"name": "g", "max": 2, "template": {"cpu": "0", "memory": "1Gi"}},
     "nodeGroups[0].template.cpu: Invalid value: '0': must be greater than 0"),
    ({"name": "g", "max": 2, "template": {"cpu": "lots", "memory": "1Gi"}}, "nodeGroups[0].template.cpu: Invalid value"),
    ({"name": "g", "max": 2, "template": {"cpu": "1"}}, "nodeGroups[0].template.memory: Required value"),
    ({"name": "g", "max": 2, "template": {"cpu": "1", "memory": "1Gi", "gpus": -1}},
     "nodeGroups[0].template.gpus: Invalid value: -1"),
    ({"name": "g", "max": 2, "template": {"cpu": "1", "memory": "1Gi", "taints": [{"key": "k", "effect": "Sometimes"}]}},
     "nodeGroups[0].template.taints[0].effect: Unsupported value: 'Sometimes'"),
    ({"name": "g", "max": 2, "template": {"cpu": "1", "memory": "1Gi", "labels": {"bad key!": "v"}}},
     "nodeGroups[0].template.labels[bad key!]"),
    ({"name": "Bad_Name", "max": 2, "template": {"cpu": "1", "memory": "1Gi"}}, "nodeGroups[0].name: Invalid value"),
    ({"name": "g", "max": 2, "template": {"cpu": "1", "memory": "1Gi"}, "runtime": "vm"},
     "nodeGroups[0].runtime: Unsupported value: 'vm'"),
    ({"name": "g", "max": 2}, "nodeGroups[0].template: Required value"),
    ({"name": "g", "max": 2, "template": {"cpu": "1", "memory": "1Gi"}, "size": 3}, "nodeGroups[0].size: unknown field"),
])
def test_bad_node_group_names_the_field(entry, error):
    with pytest.raises(NodeGroupError) as e:
        parse_node_groups([entry])
    assert str(e.value).startswith(error)


def test_duplicate_group_names_are_refused():
    entry = {"name": "g", "max": 2, "template": {"cpu": "1", "memory": "1Gi"}}
    with pytest.raises(NodeGroupError, match=r"nodeGroups\[1\].name: Duplicate value: 'g'"):
        parse_node_groups([entry, entry])


@pytest.mark.parametrize("section, error", [
    ({"scanInterval": 0}, "clusterAutoscaler.scanInterval: Invalid value: 0.0: must be greater than 0"),
    ({"scaleDownUnneededTime": "10m"}, "clusterAutoscaler.scaleDownUnneededTime: Invalid value: '10m'"),
    ({"scaleDownUtilizationThreshold": 1.5}, "clusterAutoscaler.scaleDownUtilizationThreshold: Invalid value: 1.5"),
    ({"expander": "random"}, "clusterAutoscaler.expander: Unsupported value: 'random'"),
    ({"consolidation": "yes"}, "clusterAutoscaler.consolidation: Invalid value: 'yes'"),
    ({"scanIntervall": 1}, "clusterAutoscaler.scanIntervall: unknown field"),
])
def test_bad_autoscaler_setting_names_the_field(section, error):
    with pytest.raises(NodeGroupError) as e:
        parse_autoscaler_settings(section)
    assert str(e.value).startswith(error)


def test_settings_default_to_upstream_values():
    s = parse_autoscaler_settings({"scaleDownUnneededTime": 30})
    assert s["scaleDownUnneededTime"] == 30.0
    assert (s["scanInterval"], s["scaleDownDelayAfterAdd"], s["scaleDownUtilizationThreshold"]) == (10.0, 600.0, 0.5)
    assert AUTOSCALER_DEFAULTS["scaleDownUnneededTime"] == 600.0


def test_template_node_fits_as_the_scheduler_would_judge():
    g = group(cpu="2", memory="4Gi", labels={"pool": "batch"},
              taints=[{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}])
    shape = g.template_shape()
    assert shape.labels[GROUP_LABEL] == "g"
    assert fit_reasons(pod(cpu="1"), shape) == ["node(s) had untolerated taint {dedicated: batch}"]
    tolerating = [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]
    assert fit_reasons(pod(cpu="1", tolerations=tolerating), shape) == []
    assert fit_reasons(pod(cpu="3", tolerations=tolerating), shape) == ["Insufficient cpu"]
    assert fit_reasons(pod(cpu="1", tolerations=tolerating, nodeSelector={"pool": "web"}), shape) == \
        ["node(s) didn't match Pod's node affinity/selector"]


def test_scale_up_three_cpu_pod_needs_the_four_cpu_template():
    """AS-2.1: a 3-CPU pod triggers the 4-CPU group, not the 2-CPU one; with only the 2-CPU one it
    gets "pod didn't trigger scale-up: 1 Insufficient cpu"."""
    small, big = group("small", cpu="2"), group("big", cpu="4")
    p = plan([pod(cpu="3")], [small, big], {"small": 5, "big": 5})
    assert [(o.group.name, o.nodes) for o in p.options] == [("big", 1)]
    p = plan([pod(cpu="3")], [small], {"small": 5})
    assert p.options == []
    assert not_triggered_message(p.refused["default/p"]) == "pod didn't trigger scale-up: 1 Insufficient cpu"


def test_bin_packing_estimate_respects_max():
    g = group(cpu="2")
    pods = [pod(f"p{i}", cpu="1") for i in range(5)]
    p = plan(pods, [g], {"g": 2})
    assert p.options[0].nodes == 2 and len(p.options[0].pods) == 4
    assert sum(c["max node group size reached"] for c in p.refused.values()) == 1


def test_cheapest_expander_picks_lowest_price_per_pod():
    small = group("small", cpu="2", memory="4Gi")     # price 2 + 1 = 3 per node
    big = group("big", cpu="8", memory="32Gi")        # price 8 + 8 = 16 per node
    pods = [pod(f"p{i}", cpu="1") for i in range(4)]
    options = plan(pods, [small, big], {"small": 10, "big": 10}).options
    assert choose(options, "cheapest").group.name == "small"      # 2 nodes, 6 for 4 pods
    assert choose(options, "least-waste").group.name == "small"    # no idle cpu
    assert choose(plan(pods, [small, big], {"small": 1, "big": 10}).options, "most-pods").group.name == "big"


def test_gpu_group_scales_from_zero_for_a_gpu_pod():
    cpu_only = group("cpu", cpu="8")
    gpu = group("gpu", cpu="8", gpus=2, taints=[{"key": "nvidia.com/gpu", "effect": "NoSchedule"}])
    trainer = pod("train", cpu="2", gpu="1", tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}])
    p = plan([trainer], [cpu_only, gpu], {"cpu": 10, "gpu": 2})
    assert [o.group.name for o in p.options] == ["gpu"]
    assert p.refused["default/train"]["Insufficient nvidia.com/gpu"] == 1


def test_pods_that_fit_on_a_node_coming_need_no_new_one():
    g = group(cpu="4")
    left = still_pending([pod("a", cpu="2"), pod("b", cpu="1"), pod("c", cpu="2")], [g.template_shape()])
    assert [p.metadata.name for p in left] == ["b"]
    assert still_pending([pod("a", cpu="2"), pod("b", cpu="1")], [g.template_shape()]) == []


def test_utilization_is_the_larger_of_cpu_and_memory_and_gpus_alone_on_gpu_nodes():
    """AS-2.3: 60% cpu and 10% memory is 0.6."""
    shape = NodeShape("n", allocatable={"cpu": 1000, "memory": 1000}, requested={"cpu": 600, "memory": 100})
    assert utilization(shape) == 0.6
    gpu = NodeShape("n", allocatable={"cpu": 1000, "memory": 1000, "nvidia.com/gpu": 2},
                    requested={"cpu": 900, "nvidia.com/gpu": 1})
    assert utilization(gpu) == 0.5


def budget(allowed: int):
    pdb = codec.from_dict(policy_pb2.PodDisruptionBudget, {
        "metadata": {"name": "b", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}}})
    pdb.status.disruptionsAllowed = allowed
    return pdb


@pytest.mark.parametrize("p, pdbs, blocked", [
    (pod(), [], None),
    (pod(owner=""), [], "default/p is not replicated"),
    (pod(owner="", annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}), [], None),
    (pod(annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}), [],
     "pod annotated as not safe to evict present: default/p"),
    (pod(annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}), [budget(0)],
     "not enough pod disruption budget to move default/p"),
    (pod(), [budget(1)], None),
    (pod(volumes=[{"name": "scratch", "emptyDir": {}}]), [], "pod with local storage present: default/p"),
    (pod(annotations={"karpenter.sh/do-not-disrupt": "true"}), [], "pod annotated karpenter.sh/do-not-disrupt present: default/p"),
])
def test_scale_down_blockers(p, pdbs, blocked):
    """AS-2.4 and AS-2.5: a bare pod blocks, safe-to-evict true unblocks it but not a budget at 0."""
    assert blocker(p, pdbs) == blocked


def test_cluster_file_with_a_bad_node_group_is_refused_naming_the_field(tmp_path):
    import argparse

    from minik8s.cli.up import load_cluster
    path = tmp_path / "cluster.yaml"
    path.write_text("nodeGroups:\n- {name: batch, min: 0, max: 2, template: {cpu: '2', memory: 4Gi, gpus: two}}\n")
    with pytest.raises(ValueError, match=r"cluster.yaml: nodeGroups\[0\].template.gpus: Invalid value: 'two'"):
        load_cluster(argparse.Namespace(file=str(path)), str(tmp_path / "home"))
    path.write_text("nodeGroups: []\nclusterAutoscaler: {scanInterval: -1}\n")
    with pytest.raises(ValueError, match=r"clusterAutoscaler.scanInterval: Invalid value: -1"):
        load_cluster(argparse.Namespace(file=str(path)), str(tmp_path / "home"))
