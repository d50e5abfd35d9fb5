"""DefaultTolerationSeconds admission: every new pod that does not already tolerate not-ready and
unreachable (NoExecute) gets `Exists` tolerations for 300 s; a pod that tolerates them keeps its own;
the seconds are server flags; the plugin can be turned off; templates are left alone."""
from __future__ import annotations

import pytest

from minik8s.api.pb import apps_pb2, core_pb2

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


def pod(name, *tolerations):
    p = core_pb2.Pod()
    p.metadata.name = name
    p.spec.tolerations.extend(tolerations)
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    return p


def tolerations(p):
    return [(t.key, t.operator, t.effect, t.tolerationSeconds if t.HasField("tolerationSeconds") else None)
            for t in p.spec.tolerations]


def test_pods_get_the_default_tolerations(client):
    created = client.create(pod("plain"))
    assert tolerations(created) == [(NOT_READY, "Exists", "NoExecute", 300),
                                    (UNREACHABLE, "Exists", "NoExecute", 300)]
    # stored, not only answered
    assert tolerations(client.get("Pod", "plain", "default")) == tolerations(created)


@pytest.mark.parametrize("own,added", [
    # tolerating the key for NoExecute (any operator, any seconds) keeps the pod's own
    (core_pb2.Toleration(key=UNREACHABLE, operator="Exists", effect="NoExecute", tolerationSeconds=10),
     [NOT_READY]),
    # no effect means every effect; an empty key with Exists every key
    (core_pb2.Toleration(key=NOT_READY, operator="Exists"), [UNREACHABLE]),
    (core_pb2.Toleration(operator="Exists"), []),
    # another effect does not count
    (core_pb2.Toleration(key=UNREACHABLE, operator="Exists", effect="NoSchedule"), [NOT_READY, UNREACHABLE]),
])
def test_a_pod_that_tolerates_them_keeps_its_own(client, own, added):
    created = client.create(pod("own", own))
    assert created.spec.tolerations[0] == own
    assert [t.key for t in created.spec.tolerations[1:]] == added


def test_templates_are_left_alone(client):
    d = apps_pb2.Deployment()
    d.metadata.name = "web"
    d.spec.selector.matchLabels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    c = d.spec.template.spec.containers.add()
    c.name, c.image = "app", "busybox"
    assert not client.create(d).spec.template.spec.tolerations


@pytest.mark.apiserver_args("--default-not-ready-toleration-seconds", "20",
                            "--default-unreachable-toleration-seconds", "40")
def test_the_seconds_are_flags(client):
    assert tolerations(client.create(pod("quick"))) == [(NOT_READY, "Exists", "NoExecute", 20),
                                                        (UNREACHABLE, "Exists", "NoExecute", 40)]


@pytest.mark.apiserver_args("--disable-admission-plugins", "DefaultTolerationSeconds")
def test_the_plugin_can_be_disabled(client):
    assert not client.create(pod("bare")).spec.tolerations


def test_an_unknown_plugin_is_refused(tmp_path):
    from cluster import ApiServerProcess
    server = ApiServerProcess(str(tmp_path), ("--disable-admission-plugins", "NoSuchPlugin"))
    with pytest.raises(RuntimeError, match="unknown admission plugins: NoSuchPlugin"):
        server.start()
