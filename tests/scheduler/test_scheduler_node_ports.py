"""NodePorts: a host port is taken when a pod on the node holds it for the same protocol on an
overlapping address."""
from __future__ import annotations

import pytest

from minik8s.api import codec
from minik8s.api.pb import core_pb2
from minik8s.scheduler.framework import SKIP, CycleState
from minik8s.scheduler.plugins.node_ports import NodePorts
from schedtest import make_node, node_info, pod_info


def with_ports(name: str, *ports: dict) -> core_pb2.Pod:
    return codec.from_dict(core_pb2.Pod, {"metadata": {"name": name}, "spec": {"containers": [
        {"name": "c", "image": "x", "ports": [dict(containerPort=80, **p) for p in ports]}]}})


@pytest.mark.parametrize("existing, wanted, fits", [
    ([], {"hostPort": 8080}, True),
    ([{"hostPort": 8080}], {"hostPort": 8080}, False),
    ([{"hostPort": 8080}], {"hostPort": 8081}, True),
    ([{"hostPort": 8080, "protocol": "UDP"}], {"hostPort": 8080}, True),
    ([{"hostPort": 8080, "hostIP": "10.0.0.1"}], {"hostPort": 8080, "hostIP": "10.0.0.2"}, True),
    ([{"hostPort": 8080, "hostIP": "10.0.0.1"}], {"hostPort": 8080}, False),      # 0.0.0.0 overlaps all
    ([{"hostPort": 8080}], {"hostPort": 8080, "hostIP": "10.0.0.2"}, False),
    ([{"hostPort": 8080, "hostIP": "10.0.0.1"}], {"hostPort": 8080, "hostIP": "10.0.0.1"}, False),
    ([{}], {"hostPort": 80}, True),                                                 # no host port held
])
def test_filter(existing, wanted, fits):
    plugin = NodePorts({})
    node = node_info(make_node("n"), *[with_ports(f"e{i}", p) for i, p in enumerate(existing)])
    state, pi = CycleState(), pod_info(with_ports("p", wanted))
    assert plugin.pre_filter(state, pi, None) is None
    st = plugin.filter(state, pi, node)
    assert (st is None) is fits
    if st:
        assert st.message == "node(s) didn't have free ports for the requested pod ports"


def test_skipped_without_host_ports():
    assert NodePorts({}).pre_filter(CycleState(), pod_info(with_ports("p", {})), None) is SKIP
