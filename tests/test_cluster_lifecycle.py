"""A cluster's life cycle next to another one on the same machine, as a new user meets it: `up` on a
port that another cluster holds says so and starts nothing; `--port 0` picks a free port that every
client of the home (config.yaml, kubeconfig) then finds; `down --purge` takes away everything the
cluster made on the host and nothing of the other cluster's."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from support.minictl import Ctl, alive


@pytest.fixture
def clusters(tmp_path):
    made = []

    def make(name: str) -> Ctl:
        made.append(Ctl(str(tmp_path / name)))
        return made[-1]
    yield make
    for c in made:
        c("down", "--purge", timeout=120)


def _up(ctl: Ctl, *flags: str) -> subprocess.CompletedProcess:
    out = ctl("up", *flags)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_up_on_a_port_another_cluster_holds_fails_at_once_and_port_0_picks_a_free_one(clusters):
    first = clusters("first")
    _up(first, "--runtime", "fake", "--nodes", "1", "--port", "0")
    with open(os.path.join(first.home, "cluster.yaml")) as f:
        taken = yaml.safe_load(f)["apiServer"]["port"]
    assert taken != 0

    second = clusters("second")
    out = second("up", "--runtime", "fake", "--nodes", "1", "--port", str(taken))
    assert out.returncode == 1
    assert out.stderr == (f"error: port {taken} on 127.0.0.1 is in use (another cluster or program): "
                          f"pass --port N, or --port 0 to pick a free one\n")
    assert out.stdout == ""
    # nothing started, and no client of the second home is sent to the first cluster
    assert not os.path.exists(os.path.join(second.home, "config.yaml"))
    assert second.pids() == {}

    out = _up(second, "--runtime", "fake", "--nodes", "1", "--port", "0")
    with open(os.path.join(second.home, "config.yaml")) as f:
        server = yaml.safe_load(f)["server"]
    host, port = server.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) not in (0, taken)
    assert out.stdout.splitlines()[-1].startswith(f"cluster is up: server {server}, ")
    with open(os.path.join(second.home, "cluster.yaml")) as f:
        assert yaml.safe_load(f)["apiServer"]["port"] == int(port)
    # the second home's token is good on the second cluster alone: both protocols reach it
    assert second("get", "nodes", "-o", "name").stdout == "node/node-1\n"
    with open(os.path.join(second.home, "run", "rest.port")) as f:
        rest_port = int(f.read())
    with open(os.path.join(second.home, "kubeconfig")) as f:
        kubeconfig = yaml.safe_load(f)
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{rest_port}"
    reached = subprocess.run([sys.executable, "-c", (
        "import kubernetes.config as c, kubernetes.client as k, sys; "
        "c.load_kube_config(sys.argv[1]); print(k.CoreV1Api().read_namespace('default').metadata.name)"),
        os.path.join(second.home, "kubeconfig")], capture_output=True, text=True, timeout=60)
    assert reached.returncode == 0 and reached.stdout == "default\n", reached.stderr

    # a later plain `up` keeps the port it picked
    out = _up(second)
    assert "apiserver: already running" in out.stdout and f"server {server}," in out.stdout


def _links() -> set[str]:
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        return {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def _tagged_processes(tag: str) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if tag.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out


def _run_daemon_pod(ctl: Ctl, node: str, tag: str) -> dict:
    """A pod whose container starts a daemon that leaves its process group (as `busybox httpd` does),
    then sleeps; once Running: its uid, IP, network namespace and IPAM file."""
    from minik8s.api.codec import from_dict
    from minik8s.api.pb import core_pb2
    from kubelet.network import IPAM_ROOT, PodNetwork
    from support import wait_for_sync

    daemon = "import os, sys, time; os.fork() and os._exit(0); os.setsid(); time.sleep(3600)"
    with ctl.client() as c:
        c.create(from_dict(core_pb2.Pod, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"web-{node}", "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "web", "image": "busybox", "command": [
                "sh", "-c", f"{sys.executable} -c '{daemon}' {tag}; exec sleep 3600"]}]}}))
        pod = wait_for_sync(lambda: (p := c.get("Pod", f"web-{node}", "default")).status.phase == "Running" and p,
                            what=f"pod web-{node} running")
    net = PodNetwork(node, "10.0.0.0/24", "")
    wait_for_sync(lambda: _tagged_processes(tag), what=f"the daemon of web-{node}")
    return {"uid": pod.metadata.uid, "netns": net.netns_path(pod.metadata.uid), "bridge": net.bridge_name,
            "ipam": os.path.join(IPAM_ROOT, net.bridge_name, pod.status.podIP)}


@pytest.mark.root
def test_down_purge_removes_what_the_cluster_made_on_the_host_and_nothing_of_another_cluster(clusters, tmp_path):
    """Two process-runtime clusters share a node name, hence that node's bridge; the first also has a
    node of its own. `down --purge` of the first takes its pods' processes (a daemon that left its
    process group included), namespaces and addresses, its own node's bridge and address book, its
    service proxy's and DNS server's interfaces and every process of its home; the shared bridge, and
    everything of the second cluster, stay."""
    from minik8s.client.hostaddr import iface_name_for
    from test_runtime_process import _free_pod_cidrs

    from kubelet.network import IPAM_ROOT

    shared, own = f"lc{os.getpid()}", f"lc{os.getpid()}x"
    shared_cidr, own_cidr = _free_pod_cidrs(2)
    files = {"gone": [{"name": shared, "podCIDR": shared_cidr}, {"name": own, "podCIDR": own_cidr}],
             "other": [{"name": shared, "podCIDR": shared_cidr}]}
    ctls, pods = {}, {}
    for name, nodes in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"runtime": "process", "nodes": nodes}))
        ctls[name] = clusters(name)
        _up(ctls[name], "-f", str(path), "--port", "0")
        pods[name] = [_run_daemon_pod(ctls[name], n["name"], f"mk8s-test-{name}-{n['name']}") for n in nodes]
    gone, other = ctls["gone"], ctls["other"]
    [gone_shared, gone_own], [other_shared] = pods["gone"], pods["other"]
    assert gone_shared["bridge"] == other_shared["bridge"] != gone_own["bridge"]
    ifaces = {name: {iface_name_for(c.home, p) for p in "sd"} & _links() for name, c in ctls.items()}
    assert iface_name_for(gone.home, "s") in ifaces["gone"]
    for pod in pods["gone"] + pods["other"]:
        assert os.path.exists(pod["netns"]) and os.path.exists(pod["ipam"])
    running = [pid for pid in other.pids().values() if alive(pid)]

    out = gone("down", "--purge")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[-1] == f"removed {gone.home}"
    assert not os.path.exists(gone.home)

    links = _links()
    assert gone_own["bridge"] not in links and not os.path.exists(os.path.join(IPAM_ROOT, gone_own["bridge"]))
    assert not ifaces["gone"] & links
    for pod in pods["gone"]:
        assert not os.path.exists(pod["netns"]) and not os.path.exists(pod["ipam"])
    assert not _tagged_processes("mk8s-test-gone-") and not _tagged_processes(gone.home)

    # the other cluster keeps the shared bridge and all it has
    assert other_shared["bridge"] in links and ifaces["other"] <= links
    assert os.path.exists(other_shared["netns"]) and os.path.exists(other_shared["ipam"])
    assert _tagged_processes("mk8s-test-other-") and all(alive(pid) for pid in running)
    assert other("get", "pod", f"web-{shared}", "-o", "jsonpath={.status.phase}").stdout == "Running"

    out = other("down", "--purge")
    assert out.returncode == 0, out.stdout + out.stderr
    links = _links()
    assert other_shared["bridge"] not in links and not ifaces["other"] & links
    assert not os.path.exists(other_shared["netns"]) and not os.path.exists(os.path.join(IPAM_ROOT, other_shared["bridge"]))
    assert not _tagged_processes("mk8s-test-other-") and not _tagged_processes(other.home)


@pytest.mark.docker
async def test_a_docker_network_two_clusters_nodes_share_goes_with_the_last_of_them(tmp_path):
    """Two clusters' nodes of one name use one Docker network (`minik8s-NAME`): removing the first
    node's network leaves it to the second; removing the second's takes it away."""
    import docker
    from test_runtime_docker import _free_subnet

    from kubelet.runtime.docker import DockerRuntime

    client = docker.from_env(timeout=30)
    name = f"lc{os.getpid()}d"
    try:
        cidr = _free_subnet(client)
        first, second = (DockerRuntime(name, cidr, str(tmp_path / home / "kubelet" / name / "runtime"), client=client)
                         for home in ("first", "second"))
        assert await first.network_ready() is None and await second.network_ready() is None
        await first.remove_network()
        assert [n.name for n in client.networks.list(names=[f"minik8s-{name}"])] == [f"minik8s-{name}"]
        await second.remove_network()
        assert not client.networks.list(names=[f"minik8s-{name}"])
        for rt in (first, second):
            await rt.close()
    finally:
        for net in client.networks.list(names=[f"minik8s-{name}"]):
            net.remove()
        client.close()
