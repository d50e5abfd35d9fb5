"""`minictl up | down | status`: a local cluster under $MINIK8S_HOME, each component its own background
process (logs in HOME/logs, pid files in HOME/run), started in order and restartable one by one.

`up` is idempotent: it starts what is not running and leaves what is; nodes this home ran that the
cluster file no longer names are drained and deleted (one line each); then it waits (60 s at most, with the
API server's start) until every node is Ready. The cluster's shape comes from embedded defaults, flags,
or a cluster file (`-f cluster.yaml`; `apiServer` keys it leaves out keep their defaults), saved as
HOME/cluster.yaml for the components to read. Fake nodes (runtime fake) named node-1.. run in one
kubelet process (`kubelet --fake-nodes N`) and have no proxy; every other node has a kubelet and a proxy.

`down` stops the kubelets, removes what their pods run (`kubelet --remove-all`, per node that is not
fake: pod processes, network namespaces, containers), then stops the proxies, the controllers, the
scheduler and the API server last.

A cluster file declaring `nodeGroups` (minik8s/api/nodegroups.py, checked before anything starts) also
gets the cluster autoscaler (`python -m minik8s.autoscaler`), which grows and shrinks those groups with
`minictl node add/remove`.

`node fail | restart | add | remove | rotate` change the nodes of the running cluster (NODE_HELP says
how); the nodes added and removed are recorded in HOME/nodes.yaml and applied to every load of the
cluster file. The file's `apiServer` block may also set the default not-ready / unreachable toleration
seconds (TOLERATION_FLAGS), upstream's 300 s when left out."""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

DEFAULT_PORT = 6443
DEFAULT_TIMEOUT = 60.0       # how long `up` waits for the API server and then for every node to be Ready
READY_POLL_S = 0.2
READY_LINES_MAX = 20         # more nodes than this: one line for them all
REMOVE_ALL_TIMEOUT = 60.0    # `down`: how long a node's `kubelet --remove-all` may take
STOP_TIMEOUT = 15.0          # `down`: how long a component has to exit on SIGTERM before SIGKILL

# cluster.yaml apiServer keys passed as the API server's flags (upstream's 300 s when left out): a lesson
# shortens how long pods stay bound to a node that is not ready or unreachable
TOLERATION_FLAGS = {"defaultNotReadyTolerationSeconds": "--default-not-ready-toleration-seconds",
                    "defaultUnreachableTolerationSeconds": "--default-unreachable-toleration-seconds"}

CLUSTER_DEFAULTS = {
    "apiVersion": "minik8s.io/v1alpha1",
    "kind": "Cluster",
    "apiServer": {"address": "127.0.0.1", "port": DEFAULT_PORT},
    "runtime": "auto",
    "nodes": 1,
}


# ---------------------------------------------------------------- flags
def _up_flags(p):
    p.add_argument("--nodes", type=int, help="number of nodes")
    p.add_argument("-f", "--file", help="cluster file (cluster.yaml)")
    p.add_argument("--runtime", help="container runtime for the nodes")
    p.add_argument("--port", type=int, help="API server port; 0 picks a free one, kept for later `up`s")
    p.add_argument("--address", help="API server listen address")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the API server and the nodes to be ready (default 60)")
    p.add_argument("--prepare-only", action="store_true",
                   help="write the home (tokens, config, certificates) without starting anything")


def _down_flags(p):
    p.add_argument("--purge", action="store_true", help="also delete the cluster's home directory")


NODE_HELP = """\
Node lifecycle on the local cluster `minictl up` runs (minik8s's own verbs; kubectl has none):

  fail NAME      the node is lost at once, as a machine that dies: its kubelet and proxy get SIGKILL and
                 every container and process of its pods is killed (kubelet --remove-all). The Node
                 object stays: the node lifecycle controller marks it Unknown after
                 controllerManager.nodeMonitorGracePeriod and taints it unreachable. Fake nodes that
                 `up` runs in one kubelet process (node-1..node-N) fail together; a node added with
                 `node add` has a process of its own and fails alone.
  restart NAME   start its kubelet (and proxy) again as `up` does; a running kubelet is stopped first,
                 leaving its containers running, and the new one adopts them. Waits until Ready.
  add NAME       a new node on the running cluster: its token, kubelet and proxy, then waits until it
                 is Ready. It is recorded in HOME/nodes.yaml, so `down`, `up` and `up -f FILE` keep it.
  remove NAME    cordon, drain (through the Eviction API, honouring PodDisruptionBudgets), stop its
                 kubelet, remove what its pods ran, delete the Node and its token. Recorded too: a
                 later `up -f FILE` does not start it again. (`down --purge` forgets the record.)
  rotate         replace nodes one by one (--max-unavailable at a time): add NAME-r1 of the same shape
                 (NAME-rK becomes NAME-rK+1), wait until Ready, then remove the old node as above."""


def _timeout_flag(p, default: float, what: str) -> None:
    from minik8s.cli.common import duration
    p.add_argument("--timeout", type=duration, default=default, help=f"{what}, e.g. 2m")


def _drain_node_flags(p) -> None:
    from minik8s.cli.common import bool_flag
    bool_flag(p, "--ignore-daemonsets", default=True, help="ignore DaemonSet-managed pods (default true)")
    p.add_argument("--delete-emptydir-data", action="store_true",
                   help="continue even if there are pods using emptyDir (their data is lost)")
    p.add_argument("--force", action="store_true", help="continue even if there are pods no controller manages")
    p.add_argument("--grace-period", type=int, default=-1,
                   help="seconds each pod is given to terminate (-1: the pod's own)")
    _timeout_flag(p, 0.0, "give up draining after this long (0: never)")


def _node_flags(p) -> None:
    from minik8s.cli.common import Parser, global_flags
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = NODE_HELP
    sub = p.add_subparsers(dest="node_command", metavar="COMMAND", parser_class=Parser, required=True)

    def verb(name, help_):
        v = sub.add_parser(name, help=help_, description=help_)
        global_flags(v)
        return v

    v = verb("fail", "Kill a node's kubelet and everything its pods run, as a lost machine")
    v.add_argument("name", metavar="NAME")
    v = verb("restart", "Start a node's kubelet again")
    v.add_argument("name", metavar="NAME")
    _timeout_flag(v, DEFAULT_TIMEOUT, "how long to wait until the node is Ready (default 60s)")
    v = verb("add", "Add a node to the running cluster")
    v.add_argument("name", metavar="NAME")
    v.add_argument("--cpu", help="CPU capacity, e.g. 4 (default: the host's)")
    v.add_argument("--memory", help="memory capacity, e.g. 8Gi (default: the host's)")
    v.add_argument("--pods", help="pod capacity (default 110)")
    v.add_argument("--gpus", help="N fake GPUs, or auto for the host's (NVML)")
    v.add_argument("--labels", default="", help="node labels, k=v,k2=v2")
    v.add_argument("--taints", default="", help="node taints, k=v:Effect,k2:Effect")
    v.add_argument("--runtime", choices=("auto", "docker", "process", "fake"),
                   help="container runtime (default: the cluster's)")
    _timeout_flag(v, DEFAULT_TIMEOUT, "how long to wait until the node is Ready (default 60s)")
    v = verb("remove", "Drain a node and take it out of the cluster")
    v.add_argument("name", metavar="NAME")
    _drain_node_flags(v)
    v = verb("rotate", "Replace nodes by fresh ones of the same shape, draining the old ones")
    v.add_argument("nodes", nargs="*", metavar="NAME")
    v.add_argument("--all", action="store_true", help="every node of the cluster")
    v.add_argument("--max-unavailable", type=int, default=1, help="nodes replaced at a time (default 1)")
    _drain_node_flags(v)


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("up", "up:cmd_up", "Start a local cluster (API server, controllers, scheduler, nodes)", _up_flags),
    ("down", "up:cmd_down", "Stop the local cluster", _down_flags),
    ("status", "up:cmd_status", "Show the local cluster's components", None),
    ("node", "up:cmd_node", "Fail, restart, add, remove or rotate the local cluster's nodes", _node_flags),
]


def _home(args) -> str:
    from minik8s.client.config import home_dir
    return os.path.abspath(home_dir(getattr(args, "home", None)))


def _node_names(cluster: dict) -> list[str]:
    return [name for name, _ in _node_runtimes(cluster)]


def _node_runtimes(cluster: dict) -> list[tuple[str, str]]:
    """(node name, the runtime named for it: its own, else the cluster's) in the cluster file's order."""
    default = cluster.get("runtime") or "auto"
    return [(name, entry.get("runtime") or default) for name, entry in _node_entries(cluster)]


def _node_entries(cluster: dict) -> list[tuple[str, dict]]:
    """(node name, its entry: one node, `count` expanded) in the cluster file's order, named as
    kubelet/config.py's node_entries names them."""
    nodes = cluster.get("nodes", 1)
    if isinstance(nodes, int):
        return [(f"node-{i}", {"name": f"node-{i}"}) for i in range(1, nodes + 1)]
    out = []
    for i, n in enumerate(nodes or [], 1):
        n = n or {}
        count = int(n.get("count", 1))
        base = n.get("name", f"node-{i}")
        one = {k: v for k, v in n.items() if k != "count"}
        out.extend((name, dict(one, name=name))
                   for name in ([base] if count == 1 else [f"{base}-{j}" for j in range(1, count + 1)]))
    return out


def load_cluster(args, home: str) -> dict:
    import yaml
    from minik8s.api.nodegroups import parse_autoscaler_settings, parse_node_groups
    saved = os.path.join(home, "cluster.yaml")
    cluster = dict(CLUSTER_DEFAULTS)
    source = getattr(args, "file", None) or (saved if os.path.exists(saved) else None)
    if source:
        with open(source) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping")
        unknown = set(data) - {"apiVersion", "kind", "apiServer", "runtime", "nodes", "scheduler",
                               "controllerManager", "kubelet", "nodeGroups", "clusterAutoscaler"}
        if unknown:
            raise ValueError(f"{source}: {sorted(unknown)[0]}: unknown field")
        server = data.get("apiServer")
        if server is None:
            server = {}
        if not isinstance(server, dict):
            raise ValueError(f"{source}: apiServer: expected a mapping (address, port)")
        known = [*CLUSTER_DEFAULTS["apiServer"], *TOLERATION_FLAGS]
        unknown = set(server) - set(known)
        if unknown:
            raise ValueError(f"{source}: apiServer.{sorted(unknown)[0]}: unknown field (known: {', '.join(known)})")
        port = server.get("port", DEFAULT_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{source}: apiServer.port: {port!r} is not a port number")
        for key in set(server) & set(TOLERATION_FLAGS):
            if isinstance(server[key], bool) or not isinstance(server[key], int) or server[key] < 0:
                raise ValueError(f"{source}: apiServer.{key}: {server[key]!r} is not a number of seconds")
        try:
            parse_node_groups(data.get("nodeGroups"))
            parse_autoscaler_settings(data.get("clusterAutoscaler"))
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None
        # key by key: what the file leaves out keeps its default
        data = dict(data, apiServer={**CLUSTER_DEFAULTS["apiServer"], **server})
        cluster.update(data)
    if getattr(args, "nodes", None) is not None:
        cluster["nodes"] = args.nodes
    if getattr(args, "runtime", None):
        cluster["runtime"] = args.runtime
    server = dict(cluster["apiServer"])
    if getattr(args, "port", None) is not None:
        server["port"] = args.port
    if getattr(args, "address", None):
        server["address"] = args.address
    cluster["apiServer"] = server
    _apply_node_record(cluster, _read_node_record(home))
    return cluster


def _identities(nodes: list[str]) -> dict[str, tuple[str, str]]:
    from minik8s.client.home import node_identity
    ids = {"admin": ("admin", "system:masters"),
           "scheduler": ("system:kube-scheduler", ""),
           "controller-manager": ("system:kube-controller-manager", ""),
           "kube-dns": ("system:kube-dns", ""),
           "cluster-autoscaler": ("system:cluster-autoscaler", "")}
    for n in nodes:
        ids[node_identity(n)] = (f"system:node:{n}", "system:nodes")
    return ids


def _fake_index(name: str) -> int | None:
    prefix, _, tail = name.rpartition("-")
    return int(tail) if prefix == "node" and tail.isdigit() and int(tail) > 0 and str(int(tail)) == tail else None


def _node_processes(cluster: dict) -> list[tuple[str, list[str], bool]]:
    """(component name, the nodes it runs, whether they are fake). Fake nodes named node-I.. node-J run
    in one process per run of consecutive numbers (`python -m kubelet --fake-nodes`): `kubelet-fake`
    for the run from node-1, `kubelet-fake-I` for one from node-I; every other node has its own
    kubelet, `kubelet-NAME`."""
    out: list[tuple[str, list[str], bool]] = []
    runs: list[list[int]] = []
    default = cluster.get("runtime") or "auto"
    for name, entry in _node_entries(cluster):
        runtime = entry.get("runtime") or default
        # a node `minictl node add` made runs alone: it fails, restarts and goes without the others
        i = _fake_index(name) if runtime == "fake" and not entry.get("added") else None
        if i is None:
            out.append((f"kubelet-{name}", [name], runtime == "fake"))
        elif runs and runs[-1][-1] + 1 == i:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        out.append(("kubelet-fake" if run[0] == 1 else f"kubelet-fake-{run[0]}", [f"node-{i}" for i in run], True))
    return out


def _components(home: str, cluster: dict, tls: tuple | None) -> list[tuple[str, list[str]]]:
    """(name, argv) in start order. Components whose package is not installed yet are skipped."""
    from minik8s.client.home import node_identity, token_file
    py = sys.executable
    server = cluster["apiServer"]
    api = [py, "-m", "apiserver", "--home", home, "--address", server["address"], "--port", str(server["port"]),
           "--port-file", _bound_port_file(home)]
    if tls:
        api += ["--tls-cert-file", tls[1], "--tls-private-key-file", tls[2]]
    for key, flag in TOLERATION_FLAGS.items():
        if key in server:
            api += [flag, str(server[key])]
    out = [("apiserver", api)]
    for name, module, ident in (("scheduler", "minik8s.scheduler", "scheduler"),
                                ("controller-manager", "minik8s.controllers", "controller-manager")):
        if importlib.util.find_spec(f"{module}.__main__") is not None:
            out.append((name, [py, "-m", module, "--home", home,
                               "--token-file", token_file(home, ident)]))
    if cluster.get("nodeGroups") and importlib.util.find_spec("minik8s.autoscaler.__main__") is not None:
        out.append(("cluster-autoscaler", [py, "-m", "minik8s.autoscaler", "--home", home,
                                           "--token-file", token_file(home, "cluster-autoscaler")]))
    dns_ip = (cluster.get("kubelet") or {}).get("clusterDNS") or []
    if dns_ip and importlib.util.find_spec("minik8s.dns.__main__") is not None:
        out.append(("dns", [py, "-m", "minik8s.dns", "--home", home, "--token-file", token_file(home, "kube-dns"),
                            "--cluster-ip", dns_ip[0], "--cluster-domain",
                            (cluster.get("kubelet") or {}).get("clusterDomain", "cluster.local")]))
    if importlib.util.find_spec("kubelet.__main__") is not None:
        for name, nodes, fake in _node_processes(cluster):
            if name.startswith("kubelet-fake"):
                # each fake node reads its own token, HOME/pki/node-I.token (kubelet/fakenodes.py)
                first = nodes[0].rpartition("-")[2]
                out.append((name, [py, "-m", "kubelet", "--home", home, "--fake-nodes", str(len(nodes)),
                                   "--first-node", first]))
                continue
            node = nodes[0]
            out.append((name, [py, "-m", "kubelet", "--home", home, "--node-name", node,
                               "--token-file", token_file(home, node_identity(node))]))
            if not fake and importlib.util.find_spec("minik8s.proxy.__main__") is not None:
                # a fake node runs nothing to proxy to
                out.append((f"proxy-{node}", [py, "-m", "minik8s.proxy"] + out[-1][1][3:]))  # kubelet's flags
    return out


def _client_host(cluster: dict) -> str:
    address = cluster["apiServer"]["address"]
    return "127.0.0.1" if address in ("0.0.0.0", "::") else address


def _pid_alive(pid_file: str) -> int | None:
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split()[2] == "Z":
                return None
    except OSError:
        pass
    return pid


def _start(home: str, name: str, argv: list[str]) -> tuple[int, bool]:
    pid_file = os.path.join(home, "run", f"{name}.pid")
    pid = _pid_alive(pid_file)
    if pid:
        return pid, False
    log = open(os.path.join(home, "logs", f"{name}.log"), "ab")
    env = dict(os.environ, MINIK8S_HOME=home)
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env, close_fds=True)
    with open(pid_file, "w") as f:
        f.write(str(proc.pid))
    return proc.pid, True


def _wait_serving(home: str, deadline: float, proc_pid_file: str) -> str | None:
    from minik8s.client.client import Client
    from minik8s.client.config import ClientConfig
    err = "no answer"
    while time.monotonic() < deadline:
        if not _pid_alive(proc_pid_file):
            return "apiserver exited: see " + os.path.join(home, "logs", "apiserver.log")
        try:
            with Client(config=ClientConfig.load(home), timeout=1.0) as c:
                c.version()
            return None
        except Exception as e:  # not up yet
            err = str(e)
            time.sleep(0.05)
    return f"apiserver did not answer in time: {err}"


def _bound_port_file(home: str) -> str:
    return os.path.join(home, "run", "apiserver.port")


def _record_bound_port(home: str, cluster: dict, deadline: float) -> str | None:
    """`--port 0`: wait for the port the API server bound, and keep it in cluster.yaml and config.yaml,
    so that clients, the other components and later `up`s all find the server there."""
    import yaml
    from minik8s.client.config import ClientConfig
    path = _bound_port_file(home)
    while not os.path.exists(path):
        if not _pid_alive(os.path.join(home, "run", "apiserver.pid")):
            return "apiserver exited: see " + os.path.join(home, "logs", "apiserver.log")
        if time.monotonic() > deadline:
            return "apiserver bound no port in time"
        time.sleep(0.05)
    with open(path) as f:
        cluster["apiServer"]["port"] = int(f.read())
    with open(os.path.join(home, "cluster.yaml"), "w") as f:
        yaml.safe_dump(cluster, f, sort_keys=False)
    config = ClientConfig.load(home)
    config.server = f"{_client_host(cluster)}:{cluster['apiServer']['port']}"
    config.save(home)
    return None


def prepare_home(args) -> tuple[str, dict, tuple | None]:
    """Lay out HOME (data, logs, run, pki), resolve the cluster file, make tokens (and TLS material when
    serving off loopback), and write the admin's config.yaml. Raises ValueError on a bad cluster file."""
    from minik8s.client.config import ClientConfig
    from minik8s.client.home import SUBDIRS, ensure_ca_and_server_cert, ensure_tokens, is_loopback, pki_dir
    import yaml

    home = _home(args)
    for d in SUBDIRS:
        os.makedirs(os.path.join(home, d), mode=0o700, exist_ok=True)
    os.chmod(home, 0o700)       # tokens, pod specs, env and logs live below: the owner's alone
    cluster = load_cluster(args, home)
    if os.geteuid() == 0:
        # the cluster DNS holds its address on an interface of its own: root only; without it pods keep
        # the host's resolvers (dnsPolicy ClusterFirst falls back to Default, as upstream does)
        cluster["kubelet"] = {"clusterDNS": [CLUSTER_DNS_IP], **(cluster.get("kubelet") or {})}
    with open(os.path.join(home, "cluster.yaml"), "w") as f:
        yaml.safe_dump(cluster, f, sort_keys=False)
    if not _pid_alive(os.path.join(home, "run", "apiserver.pid")) and os.path.exists(_bound_port_file(home)):
        os.unlink(_bound_port_file(home))     # a stopped server's port: `--port 0` waits for the new one
    pki = pki_dir(home)
    tokens = ensure_tokens(pki, _identities(_node_names(cluster)))
    address = cluster["apiServer"]["address"]
    tls = None
    if not is_loopback(address):
        tls = ensure_ca_and_server_cert(pki, [address])
    host = _client_host(cluster)
    ClientConfig(server=f"{host}:{cluster['apiServer']['port']}", token=tokens["admin"],
                 ca_file=tls[0] if tls else None).save(home)
    return home, cluster, tls


def _port_in_use(cluster: dict, home: str) -> str | None:
    """Why `up` cannot serve on the cluster's port: another process (another cluster's API server, or
    anything) holds it. Checked before the home names the port, so that no client of this home is sent
    to a server that is not this cluster's."""
    import socket
    server = cluster["apiServer"]
    address, port = server["address"], server["port"]
    if port == 0 or _pid_alive(os.path.join(home, "run", "apiserver.pid")):
        return None
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # as the server binds: TIME_WAIT is no owner
        try:
            s.bind((address, port))
        except OSError:
            return (f"port {port} on {address} is in use (another cluster or program): "
                    f"pass --port N, or --port 0 to pick a free one")
    return None


def cmd_up(args) -> int:
    try:
        err = None if getattr(args, "prepare_only", False) else _port_in_use(load_cluster(args, _home(args)), _home(args))
        if err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        home, cluster, tls = prepare_home(args)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if getattr(args, "prepare_only", False):
        print(f"prepared {home}")
        return 0
    host = _client_host(cluster)
    timeout = getattr(args, "timeout", None) or DEFAULT_TIMEOUT
    deadline = time.monotonic() + timeout
    components = _components(home, cluster, tls)
    for name, argv in components:
        pid, started = _start(home, name, argv)
        print(f"{name}: {'started' if started else 'already running'} (pid {pid})")
        if name == "apiserver":
            err = _record_bound_port(home, cluster, deadline) if cluster["apiServer"]["port"] == 0 else None
            err = err or _wait_serving(home, deadline, os.path.join(home, "run", "apiserver.pid"))
            if err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            _write_kubeconfig(home, host, tls)
            _ensure_storage_classes(home)
            _ensure_dns_service(home, cluster)
    started = {name for name, _ in components}
    _remove_departed_nodes(home, cluster, started)
    nodes = {node: name for name, names, _ in _node_processes(cluster) if name in started for node in names}
    err = _wait_nodes_ready(home, nodes, deadline, timeout)
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"cluster is up: server {host}:{cluster['apiServer']['port']}, home {home}")
    return 0


# the classes every cluster starts with: `standard` (the default) gives a directory under HOME/volumes that
# every node of this machine reaches; `local` pins the volume to its first consumer's node
STORAGE_CLASSES = (("standard", "minik8s.io/hostpath", "Immediate", True),
                   ("local", "minik8s.io/local", "WaitForFirstConsumer", False))


def _ensure_storage_classes(home: str) -> None:
    from minik8s.api.errors import AlreadyExists
    from minik8s.api.pb import storage_pb2
    from minik8s.client.client import Client
    from minik8s.client.config import ClientConfig

    with Client(config=ClientConfig.load(home), timeout=5.0) as c:
        for name, provisioner, mode, default in STORAGE_CLASSES:
            sc = storage_pb2.StorageClass(apiVersion="storage.k8s.io/v1", kind="StorageClass",
                                          provisioner=provisioner, volumeBindingMode=mode)
            sc.metadata.name = name
            if default:
                sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] = "true"
            try:
                c.create(sc)
            except AlreadyExists:
                pass


# the kube-dns Service: the tenth address of the service range, as kubeadm gives it. It declares 53/UDP
# only: a TCP port would have the service proxy claim ClusterIP:53/TCP, which the DNS server serves itself
CLUSTER_DNS_IP = "10.96.0.10"


def _ensure_dns_service(home: str, cluster: dict) -> None:
    from minik8s.api.codec import from_dict
    from minik8s.api.errors import AlreadyExists, ApiError
    from minik8s.api.pb import core_pb2
    from minik8s.client.client import Client
    from minik8s.client.config import ClientConfig

    dns_ip = (cluster.get("kubelet") or {}).get("clusterDNS") or []
    if not dns_ip:
        return
    svc = from_dict(core_pb2.Service, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"}},
        "spec": {"clusterIP": dns_ip[0], "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}]}})
    with Client(config=ClientConfig.load(home), timeout=5.0) as c:
        try:
            c.create(svc)
        except AlreadyExists:
            pass
        except ApiError as e:
            print(f"warning: kube-dns Service not created: {e}", file=sys.stderr)


def _remove_departed_nodes(home: str, cluster: dict, started: set[str]) -> None:
    """Nodes this home ran before (their token is in HOME/pki) that the cluster file no longer names: their
    kubelets and proxies are stopped, their pods deleted at once (no kubelet is left to stop them), and
    the Node deleted, so that none stays Ready in the store with nothing behind it."""
    from minik8s.api.errors import NotFound
    from minik8s.client.client import Client
    from minik8s.client.config import ClientConfig
    from minik8s.client.home import pki_dir

    run = os.path.join(home, "run")
    stale = [n[:-4] for n in os.listdir(run) if n.endswith(".pid") and _stop_rank(n[:-4]) in (0, 1)]
    _stop(run, [n for n in stale if n not in started])
    keep = set(_node_names(cluster))
    with Client(config=ClientConfig.load(home), timeout=5.0) as c:
        for node in c.list("Node").items:
            name = node.metadata.name
            ident = name if name.startswith("node-") else f"node-{name}"
            if name in keep or not os.path.exists(os.path.join(pki_dir(home), f"{ident}.token")):
                continue
            pods = c.list("Pod", field_selector=f"spec.nodeName={name}").items
            for pod in pods:
                try:
                    c.delete("Pod", pod.metadata.name, pod.metadata.namespace, grace_period=0)
                except NotFound:
                    pass
            try:
                c.delete("Node", name)
            except NotFound:
                pass
            print(f"node {name}: not in this cluster, drained ({len(pods)} pods deleted) and deleted")


def _write_kubeconfig(home: str, host: str, tls: tuple | None) -> None:
    """HOME/kubeconfig for the REST API (the port the API server recorded), merged into the user's
    kubeconfig as context minik8s, so `kubectl --context minik8s` works at once."""
    from minik8s.cli.kubeconfig import merge_into_user_config, write_kubeconfig
    from minik8s.client.config import ClientConfig
    from minik8s.client.home import pki_dir, rest_serving_cert
    with open(os.path.join(home, "run", "rest.port")) as f:
        port = int(f.read())
    ca = tls[0] if tls else rest_serving_cert(pki_dir(home))[0]
    write_kubeconfig(home, host, port, ClientConfig.load(home).token, ca)
    merge_into_user_config(home)


def _ready_nodes(client) -> set[str]:
    return {n.metadata.name for n in client.list("Node").items
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)}


def _wait_nodes_ready(home: str, nodes: dict[str, str], deadline: float, timeout: float) -> str | None:
    """Polls the API until every node of `nodes` (node -> the component running it) is Ready, printing
    each as it gets there (or, past READY_LINES_MAX nodes, a count). None, or what went wrong."""
    if not nodes:
        return None
    from minik8s.client.client import Client
    from minik8s.client.config import ClientConfig

    run, logs = os.path.join(home, "run"), os.path.join(home, "logs")
    order = list(nodes)
    ready: set[str] = set()
    err = ""
    with Client(config=ClientConfig.load(home), timeout=5.0) as c:
        while True:
            try:
                now_ready, err = _ready_nodes(c) & set(nodes), ""
            except Exception as e:  # the server busy or restarting: asked again until the deadline
                now_ready, err = ready, str(e)
            if len(nodes) <= READY_LINES_MAX:
                for node in order:
                    if node in now_ready and node not in ready:
                        print(f"{node}: Ready")
            ready |= now_ready
            if len(ready) == len(nodes):
                if len(nodes) > READY_LINES_MAX:
                    print(f"{len(nodes)} nodes Ready")
                return None
            waiting = [n for n in order if n not in ready]
            dead = sorted({nodes[n] for n in waiting if not _pid_alive(os.path.join(run, f"{nodes[n]}.pid"))})
            if dead or time.monotonic() >= deadline:
                names = ", ".join(waiting[:10]) + (f" and {len(waiting) - 10} more" if len(waiting) > 10 else "")
                procs = dead or sorted({nodes[n] for n in waiting})
                see = ", ".join(os.path.join(logs, f"{p}.log") for p in procs[:5])
                why = f"{', '.join(dead)} exited" if dead else f"not Ready after {timeout:g}s"
                return f"nodes not Ready ({why}): {names}; see {see}" + (f" ({err})" if err else "")
            time.sleep(READY_POLL_S)


def _stop_rank(name: str) -> int:
    """`down`'s order: the nodes, their proxies, the controllers, the scheduler, the API server last."""
    if name.startswith("kubelet-"):
        return 0
    if name.startswith("proxy-"):
        return 1
    return {"controller-manager": 2, "scheduler": 3, "apiserver": 5}.get(name, 4)


def _stop(run: str, names: list[str]) -> list[str]:
    """SIGTERM to each running component of `names`, SIGKILL to what has not exited in STOP_TIMEOUT;
    returns those that were running. Their pid files go."""
    pids = []
    for name in names:
        path = os.path.join(run, f"{name}.pid")
        pid = _pid_alive(path)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                pids.append((name, pid, path))
            except ProcessLookupError:
                os.unlink(path)
        else:
            os.unlink(path)
    deadline = time.monotonic() + STOP_TIMEOUT
    for name, pid, path in pids:
        while time.monotonic() < deadline and _pid_alive(path):
            time.sleep(0.05)
        if _pid_alive(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            gone = time.monotonic() + 5
            while time.monotonic() < gone and _pid_alive(path):
                time.sleep(0.05)
        os.unlink(path)
        print(f"{name}: stopped")
    return [name for name, _, _ in pids]


def _remove_pods(home: str, nodes: list[str] | None = None, network: bool = False) -> None:
    """`python -m kubelet --remove-all` for every node of the cluster (or of `nodes`) that is not fake
    and has run (its HOME/kubelet/NODE exists), all at once: whatever its pods run (shims and their
    processes, network namespaces, containers) goes, and with `network` the node's bridge or Docker
    network (kept while another cluster's node of the same name uses it). It needs the runtime only,
    not the API server; run once the kubelets are gone, so none starts a pod again."""
    try:
        cluster = load_cluster(argparse.Namespace(), home)
        nodes = [n for name, names, fake in _node_processes(cluster) if not fake for n in names
                 if nodes is None or n in nodes]
    except (OSError, ValueError, ImportError) as e:
        print(f"error: cannot tell the nodes whose pods to remove: {e}", file=sys.stderr)
        return
    nodes = [n for n in nodes if os.path.isdir(os.path.join(home, "kubelet", n))]
    env = dict(os.environ, MINIK8S_HOME=home)
    flags = ["--remove-all"] + (["--remove-network"] if network else [])
    procs = [(n, subprocess.Popen([sys.executable, "-m", "kubelet", "--home", home, "--node-name", n, *flags],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=env, text=True)) for n in nodes]
    deadline = time.monotonic() + REMOVE_ALL_TIMEOUT
    for node, proc in procs:
        try:
            out, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            print(f"error: {node}: removing its pods took over {REMOVE_ALL_TIMEOUT:g}s", file=sys.stderr)
            continue
        lines = [line for line in out.splitlines() if line.strip()]
        if proc.returncode == 0:
            print(f"{node}: {lines[-1].split(': ', 1)[-1] if lines else 'pods removed'}")
        else:
            print(f"error: {node}: removing its pods failed: {lines[-1] if lines else proc.returncode}",
                  file=sys.stderr)


def cmd_down(args) -> int:
    home = _home(args)
    run = os.path.join(home, "run")
    names = sorted(n[:-4] for n in os.listdir(run) if n.endswith(".pid")) if os.path.isdir(run) else []
    # the cluster autoscaler first, so that it adds no node for the pods the stopping nodes leave; then
    # the nodes; then their pods go, whether or not a kubelet was still running; then the rest
    stopped = _stop(run, [n for n in names if n == "cluster-autoscaler"])
    names = [n for n in names if n != "cluster-autoscaler"]
    stopped += _stop(run, [n for n in names if _stop_rank(n) == 0])
    purge = getattr(args, "purge", False)
    if os.path.isdir(os.path.join(home, "kubelet")):
        _remove_pods(home, network=purge)
    for rank in sorted({_stop_rank(n) for n in names} - {0}):
        stopped += _stop(run, [n for n in names if _stop_rank(n) == rank])
    if purge and os.path.isdir(home):
        _purge_host(home)
        shutil.rmtree(home)
        print(f"removed {home}")
    elif not stopped:
        print("cluster is not running")
    return 0


def _purge_host(home: str) -> None:
    """What the cluster may still hold on the host once its components are stopped: a process of the
    project's own that no pid file named (`python -m MODULE` with the home, or a path below it, among
    its arguments: a component, a pod's shim), and the interfaces of its service proxy and DNS server
    (mk8s-s/mk8s-d and the home's hash), which they remove on a clean exit only."""
    from minik8s.client.hostaddr import HostAddresses, iface_name_for
    modules = ("apiserver", "kubelet", "minik8s")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
        except OSError:
            continue
        module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""
        if int(pid) == os.getpid() or module.split(".")[0] not in modules:
            continue
        if any(a == home or a.startswith(home + os.sep) for a in argv):
            try:
                os.kill(int(pid), signal.SIGKILL)
                print(f"{module} (pid {pid}): killed")
            except ProcessLookupError:
                pass
    if HostAddresses.unavailable() is None:
        for purpose in ("s", "d"):
            addrs = HostAddresses(iface_name_for(home, purpose))
            try:
                addrs.delete()
            finally:
                addrs.close()


def cmd_status(args) -> int:
    home = _home(args)
    run = os.path.join(home, "run")
    names = sorted(n[:-4] for n in os.listdir(run) if n.endswith(".pid")) if os.path.isdir(run) else []
    if not names:
        print("cluster is not running")
        return 1
    ok = True
    for name in names:
        pid = _pid_alive(os.path.join(run, f"{name}.pid"))
        ok &= pid is not None
        print(f"{name}: {'running (pid %d)' % pid if pid else 'stopped'}")
    try:
        from minik8s.client.client import Client
        from minik8s.client.config import ClientConfig
        cfg = ClientConfig.load(home)
        with Client(config=cfg, timeout=2.0) as c:
            v = c.version()
            print(f"server {cfg.server}: {v.gitVersion}, serving")
            print(_log_archive_line(c))
    except Exception as e:
        print(f"server: not answering ({e})")
        ok = False
    return 0 if ok else 1


def _log_archive_line(c) -> str:
    """The log archive's use against its budget (size and age)."""
    from minik8s.api.errors import Unavailable
    try:
        a = c.list_log_streams(pod="\x00")          # no pod has that name: only the totals come back
    except Unavailable:
        return "log archive: off"
    pct = a.usedBytes * 100 // a.maxBytes if a.maxBytes else 0
    return (f"log archive: {a.usedBytes / 2**20:.1f}Mi of {a.maxBytes / 2**20:.0f}Mi ({pct}%), "
            f"lines kept {a.maxAgeSeconds / 86400:g}d")


# ---------------------------------------------------------------- the node record
# HOME/nodes.yaml: the nodes `minictl node add` added ({added: [entry, ...]}) and those `node remove`
# removed that the cluster file names ({removed: [name, ...]}). Every load of the cluster applies it, so
# `up`, `up -f cluster.yaml` and `down` run the nodes the cluster has now, not the file's first list.
NODE_RECORD = "nodes.yaml"


def _read_node_record(home: str) -> dict:
    import yaml
    try:
        with open(os.path.join(home, NODE_RECORD)) as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        data = {}
    return {"added": list(data.get("added") or []), "removed": list(data.get("removed") or [])}


def _write_node_record(home: str, record: dict) -> None:
    import yaml
    path = os.path.join(home, NODE_RECORD)
    with open(path + ".tmp", "w") as f:
        yaml.safe_dump(record, f, sort_keys=False)
    os.replace(path + ".tmp", path)


def _apply_node_record(cluster: dict, record: dict) -> None:
    """The cluster's nodes as a list, one entry per node, less the removed, the added last (as the
    record has them now: HOME/cluster.yaml, saved with them, may name one removed since)."""
    entries = _node_entries(cluster)
    if not record["added"] and not record["removed"] and not any(e.get("added") for _, e in entries):
        return
    added = {e["name"]: e for e in record["added"]}
    gone = set(record["removed"]) | set(added)
    cluster["nodes"] = [e for name, e in entries if name not in gone and not e.get("added")] + list(added.values())


def _save_cluster(home: str) -> dict:
    """The cluster with the node record applied, saved as HOME/cluster.yaml for the kubelets to read."""
    import yaml
    cluster = load_cluster(argparse.Namespace(), home)
    path = os.path.join(home, "cluster.yaml")
    with open(path + ".tmp", "w") as f:
        yaml.safe_dump(cluster, f, sort_keys=False)
    os.replace(path + ".tmp", path)
    return cluster


# ---------------------------------------------------------------- minictl node
def cmd_node(args) -> int:
    verbs = {"fail": _node_fail, "restart": _node_restart, "add": _node_add, "remove": _node_remove,
             "rotate": _node_rotate}
    return verbs[args.node_command](args)


def _local_cluster(args) -> tuple[str, dict]:
    from minik8s.cli.common import CliError
    home = _home(args)
    if not os.path.exists(os.path.join(home, "cluster.yaml")):
        raise CliError(f"no cluster in {home}: `minictl up` first")
    return home, load_cluster(argparse.Namespace(), home)


def _process_of(home: str, cluster: dict, node: str) -> tuple[str, list[str], bool]:
    """(the component running `node`, every node it runs, whether they are fake)."""
    from minik8s.cli.common import CliError
    for component, names, fake in _node_processes(cluster):
        if node in names:
            return component, names, fake
    raise CliError(f'node "{node}" is not a node of the cluster in {home}')


def _node_components(home: str, cluster: dict) -> dict[str, list[str]]:
    """The kubelets and proxies `up` runs for the cluster: name -> argv."""
    return {name: argv for name, argv in _components(home, cluster, None) if _stop_rank(name) in (0, 1)}


def _running_argv(run: str, name: str) -> list[str] | None:
    pid = _pid_alive(os.path.join(run, f"{name}.pid"))
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return None


def _sync_node_processes(home: str, cluster: dict, nodes: set[str]) -> None:
    """Start the kubelets and proxies of `nodes`, and bring the other node processes in line with the
    cluster: one no node needs any more stops, one that runs other nodes now (fake nodes regrouped
    after a removal) starts again with them. Any other node is left as it is: a failed node stays failed."""
    run = os.path.join(home, "run")
    wanted = _node_components(home, cluster)
    serves = {name: names for name, names, _ in _node_processes(cluster)}
    serves.update({name: [name[len("proxy-"):]] for name in wanted if name.startswith("proxy-")})
    present = [n[:-4] for n in os.listdir(run) if n.endswith(".pid") and _stop_rank(n[:-4]) in (0, 1)]
    # the interpreter's path may be spelt otherwise: the module and its flags tell a process apart
    regrouped = [n for n in present if n in wanted and (_running_argv(run, n) or wanted[n])[1:] != wanted[n][1:]]
    _stop(run, [n for n in present if n not in wanted] + regrouped)
    for name, argv in wanted.items():
        if name in regrouped or set(serves.get(name, ())) & nodes:
            pid, started = _start(home, name, argv)
            print(f"{name}: {'started' if started else 'already running'} (pid {pid})", flush=True)


def _kill(run: str, names: list[str]) -> None:
    """SIGKILL, as a machine that loses power; the pid files stay, so `status` shows them stopped and
    `node restart` (or `up`) knows what to start again."""
    for name in names:
        pid = _pid_alive(os.path.join(run, f"{name}.pid"))
        if pid:
            os.kill(pid, signal.SIGKILL)
            while _pid_alive(os.path.join(run, f"{name}.pid")):
                time.sleep(0.02)
            print(f"{name}: killed", flush=True)


def _wait_ready(home: str, nodes: dict[str, str], timeout: float) -> None:
    from minik8s.cli.common import CliError
    err = _wait_nodes_ready(home, nodes, time.monotonic() + timeout, timeout)
    if err:
        raise CliError(err)


def _node_fail(args) -> int:
    from minik8s.cli.common import CliError
    home, cluster = _local_cluster(args)
    component, together, fake = _process_of(home, cluster, args.name)
    run = os.path.join(home, "run")
    if not _pid_alive(os.path.join(run, f"{component}.pid")):
        raise CliError(f'node "{args.name}": its kubelet ({component}) is not running')
    others = [n for n in together if n != args.name]
    if others:
        print(f"{args.name} shares its kubelet process ({component}) with {', '.join(others)}: they fail together")
    _kill(run, [component] + ([] if fake else [f"proxy-{args.name}"]))
    if not fake:
        _remove_pods(home, [args.name])
    for name in together:
        print(f"node/{name} failed")
    return 0


def _node_restart(args) -> int:
    home, cluster = _local_cluster(args)
    component, together, fake = _process_of(home, cluster, args.name)
    run = os.path.join(home, "run")
    wanted = _node_components(home, cluster)
    names = [n for n in (component, f"proxy-{args.name}") if n in wanted]
    _stop(run, [n for n in names if os.path.exists(os.path.join(run, f"{n}.pid"))])
    for name in names:
        pid, _ = _start(home, name, wanted[name])
        print(f"{name}: started (pid {pid})", flush=True)
    _wait_ready(home, {n: component for n in together}, args.timeout)
    print(f"node/{args.name} restarted")
    return 0


def _node_entry(args) -> dict:
    """The cluster file entry `node add`'s flags describe; a bad value names its flag."""
    from minik8s.api.quantity import parse_quantity
    from minik8s.api.selectors import validate_dns1123_subdomain, validate_label_key, validate_label_value
    from minik8s.cli.common import CliError
    from minik8s.cli.nodeops import parse_taint
    errors = validate_dns1123_subdomain(args.name)
    if errors:
        raise CliError(f'invalid node name "{args.name}": {errors[0]}')
    entry: dict = {"name": args.name, "added": True}
    for flag in ("cpu", "memory", "pods"):
        value = getattr(args, flag)
        if value is not None:
            try:
                parse_quantity(value)
            except ValueError as e:
                raise CliError(f"--{flag}: {e}") from None
            entry[flag] = value
    if args.gpus is not None:
        if args.gpus != "auto" and not (args.gpus.isdigit()):
            raise CliError(f"--gpus: {args.gpus!r}: a number of fake GPUs or auto")
        entry["gpus"] = args.gpus if args.gpus == "auto" else int(args.gpus)
    labels = {}
    for pair in filter(None, args.labels.split(",")):
        key, eq, value = pair.partition("=")
        errors = validate_label_key(key) + validate_label_value(value) if eq else ["expected key=value"]
        if errors:
            raise CliError(f"--labels: {pair!r}: {errors[0]}")
        labels[key] = value
    if labels:
        entry["labels"] = labels
    taints = []
    for spec in filter(None, args.taints.split(",")):
        key, value, effect, remove = parse_taint(spec)
        if remove:
            raise CliError(f"--taints: {spec!r}: a taint to add, KEY[=VALUE]:EFFECT")
        taints.append({k: v for k, v in (("key", key), ("value", value), ("effect", effect)) if v})
    if taints:
        entry["taints"] = taints
    if args.runtime:
        entry["runtime"] = args.runtime
    return entry


def _add_node(home: str, client, entry: dict, timeout: float) -> None:
    """Record the node, write its token, start its kubelet (and proxy) and wait until it is Ready."""
    from minik8s.api.errors import AlreadyExists, NotFound
    from minik8s.client.home import ensure_tokens, pki_dir
    name = entry["name"]
    cluster = load_cluster(argparse.Namespace(), home)
    try:
        client.get("Node", name)
        exists = True
    except NotFound:
        exists = False
    if exists or name in _node_names(cluster):
        raise AlreadyExists(f'nodes "{name}" already exists')
    record = _read_node_record(home)
    record["added"].append(entry)
    record["removed"] = [n for n in record["removed"] if n != name]
    _write_node_record(home, record)
    cluster = _save_cluster(home)
    ensure_tokens(pki_dir(home), _identities(_node_names(cluster)))
    _sync_node_processes(home, cluster, {name})
    component, _, _ = _process_of(home, cluster, name)
    _wait_ready(home, {name: component}, timeout)
    print(f"node/{name} added", flush=True)


def _remove_node(home: str, client, name: str, args) -> None:
    """Cordon and drain the node, stop what runs it, then delete the Node and its token."""
    from minik8s.api.errors import NotFound
    from minik8s.cli.common import CliError
    from minik8s.cli.nodeops import evict_pods, pods_to_drain, set_unschedulable
    from minik8s.client.home import ensure_tokens, node_identity, pki_dir, token_file
    cluster = load_cluster(argparse.Namespace(), home)
    component, _, fake = _process_of(home, cluster, name)
    try:
        node = client.get("Node", name)
    except NotFound:
        node = None
    if node is not None:
        print(set_unschedulable(client, node, True), flush=True)
        drain = argparse.Namespace(pod_selector="", disable_eviction=False, **vars(args))
        errors = evict_pods(client, pods_to_drain(client, name, drain), drain)
        if errors:
            raise CliError(f'unable to drain node "{name}" (left cordoned): {", ".join(errors)}')
        print(f"node/{name} drained", flush=True)
    run = os.path.join(home, "run")
    # its own kubelet and proxy, or the fake nodes' shared process, which starts again without it below
    _stop(run, [n for n in (component, f"proxy-{name}") if os.path.exists(os.path.join(run, f"{n}.pid"))])
    if not fake:
        _remove_pods(home, [name], network=True)   # while the cluster file still says which runtime it has
    record = _read_node_record(home)
    if any(e["name"] == name for e in record["added"]):
        record["added"] = [e for e in record["added"] if e["name"] != name]
    else:
        record["removed"].append(name)
    _write_node_record(home, record)
    cluster = _save_cluster(home)
    _sync_node_processes(home, cluster, set())
    try:
        client.delete("Node", name)
    except NotFound:
        pass
    try:
        os.unlink(token_file(home, node_identity(name)))
    except FileNotFoundError:
        pass
    ensure_tokens(pki_dir(home), _identities(_node_names(cluster)))
    _forget_removed_token(home)
    print(f"node/{name} removed", flush=True)


def _forget_removed_token(home: str) -> None:
    """The API server reads its token file again when an unknown token arrives after the file changed
    (apiserver/auth.py): one such request, and the removed node's token stops working now."""
    import secrets
    from minik8s.api.errors import Unauthenticated
    from minik8s.client.client import Client
    from minik8s.client.config import ClientConfig
    cfg = ClientConfig.load(home)
    with Client(cfg.server, secrets.token_urlsafe(32), cfg.ca_file, timeout=5.0) as c:
        try:
            c.version()
        except Unauthenticated:
            pass


def _node_add(args) -> int:
    from minik8s.cli.common import client_for
    home, _ = _local_cluster(args)
    entry = _node_entry(args)
    with client_for(args) as client:
        _add_node(home, client, entry, args.timeout)
    return 0


def _node_remove(args) -> int:
    from minik8s.cli.common import client_for
    home, _ = _local_cluster(args)
    with client_for(args) as client:
        _remove_node(home, client, args.name, _drain_settings(args))
    return 0


def _drain_settings(args) -> argparse.Namespace:
    return argparse.Namespace(ignore_daemonsets=args.ignore_daemonsets, force=args.force,
                              delete_emptydir_data=args.delete_emptydir_data, grace_period=args.grace_period,
                              timeout=args.timeout)


def _replacement(cluster: dict, client, old: str) -> dict:
    """The entry of `old`'s replacement: its shape (runtime, capacity, GPUs, labels, taints), named
    OLD-r1, or OLD-rK+1 for OLD-rK, past any name taken; what is the node's alone (pod CIDR, address) goes."""
    import re
    from minik8s.api.errors import NotFound
    entry = dict(next(e for n, e in _node_entries(cluster) if n == old))
    for key in ("podCIDR", "address"):
        entry.pop(key, None)
    if not entry.get("runtime"):
        entry["runtime"] = cluster.get("runtime") or "auto"
    m = re.fullmatch(r"(.+)-r(\d+)", old)
    base, k = (m[1], int(m[2])) if m else (old, 0)
    taken = set(_node_names(cluster))
    while True:
        k += 1
        name = f"{base}-r{k}"
        if name in taken:
            continue
        try:
            client.get("Node", name)
        except NotFound:
            return dict(entry, name=name, added=True)


def _node_rotate(args) -> int:
    from minik8s.cli.common import CliError, client_for
    home, cluster = _local_cluster(args)
    names = _node_names(cluster)
    if args.all == bool(args.nodes):
        raise CliError("name the nodes to rotate, or --all (not both)")
    if args.max_unavailable < 1:
        raise CliError(f"--max-unavailable: {args.max_unavailable}: at least 1")
    todo = names if args.all else list(dict.fromkeys(args.nodes))
    for name in todo:
        _process_of(home, cluster, name)          # an unknown name is refused before anything changes
    drain = _drain_settings(args)
    with client_for(args) as client:
        for i in range(0, len(todo), args.max_unavailable):
            batch = todo[i:i + args.max_unavailable]
            for old in batch:
                entry = _replacement(load_cluster(argparse.Namespace(), home), client, old)
                print(f"node/{old}: adding {entry['name']}", flush=True)
                _add_node(home, client, entry, DEFAULT_TIMEOUT if args.timeout <= 0 else args.timeout)
            for old in batch:
                _remove_node(home, client, old, drain)
    return 0
