"""`minictl top nodes --bins`: each node a bin of its pods' requests, a segment per pod, plain
characters when not on a terminal, colours when on one."""
from __future__ import annotations

from minik8s.api import codec
from minik8s.api.pb import core_pb2
from minik8s.cli.bins import bar, node_bins, render


def node(name, cpu="2", memory="4Gi"):
    return codec.from_dict(core_pb2.Node, {"metadata": {"name": name},
                                           "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}}})


def pod(name, node_name, cpu, memory="256Mi", phase="Running"):
    return codec.from_dict(core_pb2.Pod, {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "i", "resources": {
            "requests": {"cpu": cpu, "memory": memory}}}]},
        "status": {"phase": phase}})


def test_bins_are_filled_by_requests_a_segment_per_pod():
    bins = node_bins([node("b"), node("a")],
                     [pod("p1", "a", "500m"), pod("p2", "a", "1"), pod("done", "a", "1", phase="Succeeded"),
                      pod("pending", "", "1")])
    assert [b.name for b in bins] == ["a", "b"]
    a = bins[0]
    assert [p[0] for p in a.pods] == ["default/p2", "default/p1"]      # largest first; finished pods free their room
    assert bar(a, 1, 20, colour=False) == "#" * 10 + "=" * 5 + "." * 5
    assert bar(bins[1], 1, 20, colour=False) == "." * 20


def test_render_plain_and_coloured():
    bins = node_bins([node("a")], [pod("p1", "a", "1500m", "1Gi")])
    plain = render(bins, 100, colour=False)
    first, second, total = plain.splitlines()
    assert first.startswith("a") and "cpu [" in first and "1500m/2000m" in first and " 75%" in first
    assert first.endswith("1 pods")
    assert "mem [" in second and "1024Mi/4096Mi" in second and " 25%" in second
    assert total == "1 nodes, 1 with pods; cpu requested 1500m of 2000m"
    assert "\x1b[" not in plain
    assert "\x1b[32m" in render(bins, 100, colour=True)
