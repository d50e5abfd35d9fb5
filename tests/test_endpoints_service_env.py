"""Service discovery variables (minik8s.api.service_env), as upstream's kubelet computes them."""
from __future__ import annotations

from minik8s.api.pb import core_pb2
from minik8s.api.service_env import pod_service_env, service_env, variables_for


def svc(name, ip, ports, ns="default"):
    s = core_pb2.Service()
    s.metadata.name, s.metadata.namespace = name, ns
    s.spec.clusterIP = ip
    for pname, port, proto in ports:
        s.spec.ports.add(name=pname, port=port, protocol=proto)
    return s


def test_one_service_all_variables_in_upstream_order():
    s = svc("my-web", "10.96.0.12", [("http", 80, "TCP"), ("dns", 53, "UDP")])
    assert variables_for(s) == [
        ("MY_WEB_SERVICE_HOST", "10.96.0.12"),
        ("MY_WEB_SERVICE_PORT", "80"),
        ("MY_WEB_SERVICE_PORT_HTTP", "80"),
        ("MY_WEB_SERVICE_PORT_DNS", "53"),
        ("MY_WEB_PORT", "tcp://10.96.0.12:80"),
        ("MY_WEB_PORT_80_TCP", "tcp://10.96.0.12:80"),
        ("MY_WEB_PORT_80_TCP_PROTO", "tcp"),
        ("MY_WEB_PORT_80_TCP_PORT", "80"),
        ("MY_WEB_PORT_80_TCP_ADDR", "10.96.0.12"),
        ("MY_WEB_PORT_53_UDP", "udp://10.96.0.12:53"),
        ("MY_WEB_PORT_53_UDP_PROTO", "udp"),
        ("MY_WEB_PORT_53_UDP_PORT", "53"),
        ("MY_WEB_PORT_53_UDP_ADDR", "10.96.0.12"),
    ]


def test_unnamed_port_and_ipv6():
    s = svc("web", "fd00::a", [("", 8080, "")])
    env = dict(variables_for(s))
    assert env["WEB_SERVICE_PORT"] == "8080"
    assert env["WEB_PORT"] == "tcp://[fd00::a]:8080"
    assert not any(k.startswith("WEB_SERVICE_PORT_") for k in env)


def test_namespace_headless_externalname_and_links_off():
    services = [svc("web", "10.96.0.2", [("", 80, "TCP")], ns="shop"),
                svc("db", "None", [("", 5432, "TCP")], ns="shop"),            # headless: nothing
                svc("ext", "", [("", 443, "TCP")], ns="shop"),                # ExternalName: nothing
                svc("other", "10.96.0.3", [("", 80, "TCP")], ns="elsewhere"),
                svc("kubernetes", "10.96.0.1", [("https", 443, "TCP")])]
    env = service_env(services, "shop")
    assert env["WEB_SERVICE_HOST"] == "10.96.0.2"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"      # the API's service: every pod gets it
    assert not any(k.startswith(("DB_", "EXT_", "OTHER_")) for k in env)
    off = service_env(services, "shop", enable_service_links=False)
    assert set(k.split("_")[0] for k in off) == {"KUBERNETES"}

    pod = core_pb2.Pod()
    pod.metadata.namespace = "shop"
    assert pod_service_env(pod, services) == env              # unset enableServiceLinks means true
    pod.spec.enableServiceLinks = False
    assert pod_service_env(pod, services) == off


def test_own_namespace_service_wins_over_the_master_service():
    services = [svc("kubernetes", "10.96.0.1", [("https", 443, "TCP")]),
                svc("kubernetes", "10.96.0.77", [("", 80, "TCP")], ns="zz")]
    assert service_env(services, "zz")["KUBERNETES_SERVICE_HOST"] == "10.96.0.77"
    assert service_env(services, "zz", enable_service_links=False)["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert service_env(services, "default")["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
