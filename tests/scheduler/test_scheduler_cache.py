"""The scheduler cache: assumed pods count at once, a landed bind confirms without a change, a failed
bind forgets, and every change shows in the change log the evaluations read."""
from __future__ import annotations

from schedtest import cache_with, make_node, make_pod, pod_info


def test_assume_confirm_forget():
    cache = cache_with([make_node("n1"), make_node("n2")])
    pod = make_pod("p", cpu="1")
    pi = pod_info(pod)
    cache.assume(pi, "n1")
    assert cache.is_assumed("p") and cache.nodes["n1"].requested == {"cpu": 1000}
    gen = cache.nodes["n1"].generation
    bound = make_pod("p", cpu="1", node_name="n1")
    bound.metadata.uid = "p"
    cache.add_pod(pod_info(bound))
    assert not cache.is_assumed("p") and cache.nodes["n1"].generation == gen     # nothing moved
    cache.forget("p")                                                             # no longer assumed: stays
    assert cache.nodes["n1"].requested == {"cpu": 1000}
    cache.assume(pod_info(make_pod("q", cpu="2")), "n2")
    cache.forget("q")
    assert cache.nodes["n2"].requested.get("cpu") == 0 and cache.pod_node("q") is None


def test_bound_elsewhere_moves_the_pod():
    cache = cache_with([make_node("n1"), make_node("n2")])
    cache.assume(pod_info(make_pod("p", cpu="1")), "n1")
    other = make_pod("p", cpu="1", node_name="n2")
    other.metadata.uid = "p"
    cache.add_pod(pod_info(other))
    assert cache.nodes["n1"].requested == {"cpu": 0} and cache.nodes["n2"].requested == {"cpu": 1000}


def test_change_log():
    cache = cache_with([make_node("n1"), make_node("n2")])
    seq = cache.seq
    cache.assume(pod_info(make_pod("p", cpu="1")), "n2")
    cache.set_node(make_node("n1", cpu="8"))
    assert cache.changed_since(seq) == ["n2", "n1"]
    assert cache.changed_since(cache.seq) == []
    assert cache.changed_since(-1) is None


def test_pods_on_an_unknown_node_and_a_deleted_node():
    cache = cache_with([make_node("n1")], [make_pod("a", cpu="1", node_name="ghost")])
    assert cache.num_nodes == 1 and [ni.name for ni in cache.node_infos()] == ["n1"]
    cache.set_node(make_node("ghost"))
    assert cache.nodes["ghost"].requested == {"cpu": 1000} and cache.num_nodes == 2
    cache.remove_node("ghost")
    assert cache.num_nodes == 1 and "ghost" in cache.nodes       # its pods still count until they go
    cache.remove_pod("a")
    assert "ghost" not in cache.nodes


def test_tallies():
    cache = cache_with([make_node("n1", taints=[{"key": "k", "effect": "PreferNoSchedule"}]), make_node("n2")],
                       [make_pod("a", priority=5, node_name="n1"), make_pod("b", priority=-3, node_name="n2")])
    assert cache.prefer_taint_nodes == 1 and cache.lowest_priority() == -3
    cache.set_usage("n2", (100, 100))
    assert cache.usage_nodes == 1
    cache.remove_node("n1")
    assert cache.prefer_taint_nodes == 0


def test_a_heartbeat_changes_nothing_the_plugins_read():
    cache = cache_with([make_node("n1")])
    gen = cache.nodes["n1"].generation
    beat = make_node("n1")
    beat.status.conditions[0].lastHeartbeatTime = "2026-01-01T00:00:10Z"
    cache.set_node(beat)
    assert cache.nodes["n1"].generation == gen and cache.nodes["n1"].node is beat
    cache.set_node(make_node("n1", ready="False"))          # not Ready: a taint appears
    assert cache.nodes["n1"].generation > gen
