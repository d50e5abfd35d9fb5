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
scheduler and the API server last."""
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
    p.add_argument("--port", type=int, help="API server port")
    p.add_argument("--address", help="API server listen address")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the API server and the nodes to be ready (default 60)")
    p.add_argument("--prepare-only", action="store_true",
                   help="write the home (tokens, config, certificates) without starting anything")


def _down_flags(p):
    p.add_argument("--purge", action="store_true", help="also delete the cluster's home directory")


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("up", "up:cmd_up", "Start a local cluster (API server, controllers, scheduler, nodes)", _up_flags),
    ("down", "up:cmd_down", "Stop the local cluster", _down_flags),
    ("status", "up:cmd_status", "Show the local cluster's components", None),
]


def _home(args) -> str:
    from minik8s.client.config import home_dir
    return os.path.abspath(home_dir(getattr(args, "home", None)))


def _node_names(cluster: dict) -> list[str]:
    return [name for name, _ in _node_runtimes(cluster)]


def _node_runtimes(cluster: dict) -> list[tuple[str, str]]:
    """(node name, the runtime named for it: its own, else the cluster's) in the cluster file's order,
    named as kubelet/config.py's node_entries names them."""
    default = cluster.get("runtime") or "auto"
    nodes = cluster.get("nodes", 1)
    if isinstance(nodes, int):
        return [(f"node-{i}", default) for i in range(1, nodes + 1)]
    out = []
    for i, n in enumerate(nodes or [], 1):
        n = n or {}
        count = int(n.get("count", 1))
        base = n.get("name", f"node-{i}")
        runtime = n.get("runtime") or default
        out.extend((name, runtime) for name in ([base] if count == 1 else [f"{base}-{j}" for j in range(1, count + 1)]))
    return out


def load_cluster(args, home: str) -> dict:
    import yaml
    saved = os.path.join(home, "cluster.yaml")
    cluster = dict(CLUSTER_DEFAULTS)
    source = getattr(args, "file", None) or (saved if os.path.exists(saved) else None)
    if source:
        with open(source) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping")
        unknown = set(data) - {"apiVersion", "kind", "apiServer", "runtime", "nodes", "scheduler",
                               "controllerManager", "kubelet"}
        if unknown:
            raise ValueError(f"{source}: {sorted(unknown)[0]}: unknown field")
        server = data.get("apiServer")
        if server is None:
            server = {}
        if not isinstance(server, dict):
            raise ValueError(f"{source}: apiServer: expected a mapping (address, port)")
        unknown = set(server) - set(CLUSTER_DEFAULTS["apiServer"])
        if unknown:
            raise ValueError(f"{source}: apiServer.{sorted(unknown)[0]}: unknown field (known: address, port)")
        port = server.get("port", DEFAULT_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{source}: apiServer.port: {port!r} is not a port number")
        # key by key: what the file leaves out keeps its default
        data = dict(data, apiServer={**CLUSTER_DEFAULTS["apiServer"], **server})
        cluster.update(data)
    if getattr(args, "nodes", None) is not None:
        cluster["nodes"] = args.nodes
    if getattr(args, "runtime", None):
        cluster["runtime"] = args.runtime
    server = dict(cluster["apiServer"])
    if getattr(args, "port", None):
        server["port"] = args.port
    if getattr(args, "address", None):
        server["address"] = args.address
    cluster["apiServer"] = server
    return cluster


def _identities(nodes: list[str]) -> dict[str, tuple[str, str]]:
    from minik8s.client.home import node_identity
    ids = {"admin": ("admin", "system:masters"),
           "scheduler": ("system:kube-scheduler", ""),
           "controller-manager": ("system:kube-controller-manager", "")}
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
    for name, runtime in _node_runtimes(cluster):
        i = _fake_index(name) if runtime == "fake" else None
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
    api = [py, "-m", "apiserver", "--home", home, "--address", server["address"], "--port", str(server["port"])]
    if tls:
        api += ["--tls-cert-file", tls[1], "--tls-private-key-file", tls[2]]
    out = [("apiserver", api)]
    for name, module, ident in (("scheduler", "minik8s.scheduler", "scheduler"),
                                ("controller-manager", "minik8s.controllers", "controller-manager")):
        if importlib.util.find_spec(f"{module}.__main__") is not None:
            out.append((name, [py, "-m", module, "--home", home,
                               "--token-file", token_file(home, ident)]))
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


def prepare_home(args) -> tuple[str, dict, tuple | None]:
    """Lay out HOME (data, logs, run, pki), resolve the cluster file, make tokens (and TLS material when
    serving off loopback), and write the admin's config.yaml. Raises ValueError on a bad cluster file."""
    from minik8s.client.config import ClientConfig
    from minik8s.client.home import SUBDIRS, ensure_ca_and_server_cert, ensure_tokens, is_loopback, pki_dir
    import yaml

    home = _home(args)
    for d in SUBDIRS:
        os.makedirs(os.path.join(home, d), mode=0o700, exist_ok=True)
    cluster = load_cluster(args, home)
    with open(os.path.join(home, "cluster.yaml"), "w") as f:
        yaml.safe_dump(cluster, f, sort_keys=False)
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


def cmd_up(args) -> int:
    try:
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
            err = _wait_serving(home, deadline, os.path.join(home, "run", "apiserver.pid"))
            if err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            _write_kubeconfig(home, host, tls)
            _ensure_storage_classes(home)
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
    with open(os.path.join(home, "run", "rest.port")) as f:
        port = int(f.read())
    ca = tls[0] if tls else os.path.join(home, "pki", "apiserver-rest.crt")    # apiserver/rest/certs.py
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


def _remove_pods(home: str) -> None:
    """`python -m kubelet --remove-all` for every node of the cluster that is not fake and has run (its
    HOME/kubelet/NODE exists), all at once: whatever its pods run (shims and their processes, network
    namespaces, containers) goes. It needs the runtime only, not the API server; run once the kubelets
    are gone, so none starts a pod again."""
    try:
        cluster = load_cluster(argparse.Namespace(), home)
        nodes = [n for name, names, fake in _node_processes(cluster) if not fake for n in names]
    except (OSError, ValueError, ImportError) as e:
        print(f"error: cannot tell the nodes whose pods to remove: {e}", file=sys.stderr)
        return
    nodes = [n for n in nodes if os.path.isdir(os.path.join(home, "kubelet", n))]
    env = dict(os.environ, MINIK8S_HOME=home)
    procs = [(n, subprocess.Popen([sys.executable, "-m", "kubelet", "--home", home, "--node-name", n, "--remove-all"],
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
    # the nodes first; then their pods go, whether or not a kubelet was still running; then the rest
    stopped = _stop(run, [n for n in names if _stop_rank(n) == 0])
    if os.path.isdir(os.path.join(home, "kubelet")):
        _remove_pods(home)
    for rank in sorted({_stop_rank(n) for n in names} - {0}):
        stopped += _stop(run, [n for n in names if _stop_rank(n) == rank])
    if getattr(args, "purge", False) and os.path.isdir(home):
        shutil.rmtree(home)
        print(f"removed {home}")
    elif not stopped:
        print("cluster is not running")
    return 0


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
    except Exception as e:
        print(f"server: not answering ({e})")
        ok = False
    return 0 if ok else 1
