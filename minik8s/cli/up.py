"""`minictl up | down | status`: a local cluster under $MINIK8S_HOME, each component its own background
process (logs in HOME/logs, pid files in HOME/run), started in order and restartable one by one.

`up` is idempotent: it starts what is not running and leaves what is. The cluster's shape comes from
embedded defaults, flags, or a cluster file (`-f cluster.yaml`), saved as HOME/cluster.yaml for the
components to read."""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

DEFAULT_PORT = 6443

CLUSTER_DEFAULTS = {
    "apiVersion": "minik8s.io/v1alpha1",
    "kind": "Cluster",
    "apiServer": {"address": "127.0.0.1", "port": DEFAULT_PORT},
    "runtime": "auto",
    "nodes": 1,
}


def _home(args) -> str:
    from minik8s.client.config import home_dir
    return os.path.abspath(home_dir(getattr(args, "home", None)))


def _node_names(cluster: dict) -> list[str]:
    nodes = cluster.get("nodes", 1)
    if isinstance(nodes, int):
        return [f"node-{i}" for i in range(1, nodes + 1)]
    names = []
    for i, n in enumerate(nodes, 1):
        count = n.get("count", 1)
        base = n.get("name", f"node-{i}")
        names.extend([base] if count == 1 else [f"{base}-{j}" for j in range(1, count + 1)])
    return names


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
    ids = {"admin": ("admin", "system:masters"),
           "scheduler": ("system:kube-scheduler", ""),
           "controller-manager": ("system:kube-controller-manager", "")}
    for n in nodes:
        ids[f"node-{n}" if not n.startswith("node-") else n] = (f"system:node:{n}", "system:nodes")
    return ids


def _components(home: str, cluster: dict, tls: tuple | None) -> list[tuple[str, list[str]]]:
    """(name, argv) in start order. Components whose package is not installed yet are skipped."""
    py = sys.executable
    server = cluster["apiServer"]
    api = [py, "-m", "apiserver", "--home", home, "--address", server["address"], "--port", str(server["port"])]
    if tls:
        api += ["--tls-cert-file", tls[1], "--tls-private-key-file", tls[2]]
    out = [("apiserver", api)]
    pki = os.path.join(home, "pki")
    for name, module, ident in (("scheduler", "minik8s.scheduler", "scheduler"),
                                ("controller-manager", "minik8s.controllers", "controller-manager")):
        if importlib.util.find_spec(f"{module}.__main__") is not None:
            out.append((name, [py, "-m", module, "--home", home,
                               "--token-file", os.path.join(pki, f"{ident}.token")]))
    if importlib.util.find_spec("kubelet.__main__") is not None:
        for node in _node_names(cluster):
            ident = node if node.startswith("node-") else f"node-{node}"
            out.append((f"kubelet-{node}", [py, "-m", "kubelet", "--home", home, "--node-name", node,
                                            "--token-file", os.path.join(pki, f"{ident}.token")]))
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
    from minik8s.cli.pki import ensure_ca_and_server_cert, ensure_tokens
    from minik8s.client.config import ClientConfig
    import yaml

    home = _home(args)
    for d in ("data", "logs", "run", "pki"):
        os.makedirs(os.path.join(home, d), mode=0o700, exist_ok=True)
    cluster = load_cluster(args, home)
    with open(os.path.join(home, "cluster.yaml"), "w") as f:
        yaml.safe_dump(cluster, f, sort_keys=False)
    pki = os.path.join(home, "pki")
    tokens = ensure_tokens(pki, _identities(_node_names(cluster)))
    from apiserver.server import is_loopback
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
    deadline = time.monotonic() + getattr(args, "timeout", 60)
    for name, argv in _components(home, cluster, tls):
        pid, started = _start(home, name, argv)
        print(f"{name}: {'started' if started else 'already running'} (pid {pid})")
        if name == "apiserver":
            err = _wait_serving(home, deadline, os.path.join(home, "run", "apiserver.pid"))
            if err:
                print(f"error: {err}", file=sys.stderr)
                return 1
    print(f"cluster is up: server {host}:{cluster['apiServer']['port']}, home {home}")
    return 0


def cmd_down(args) -> int:
    home = _home(args)
    run = os.path.join(home, "run")
    pids = []
    if os.path.isdir(run):
        # stop in reverse start order: nodes and controllers before the API server
        files = sorted(os.listdir(run), key=lambda n: n.startswith("apiserver"))
        for name in files:
            if not name.endswith(".pid"):
                continue
            path = os.path.join(run, name)
            pid = _pid_alive(path)
            if pid:
                os.kill(pid, signal.SIGTERM)
                pids.append((name[:-4], pid, path))
            else:
                os.unlink(path)
    deadline = time.monotonic() + 15
    for name, pid, path in pids:
        while time.monotonic() < deadline and _pid_alive(path):
            time.sleep(0.05)
        if _pid_alive(path):
            os.kill(pid, signal.SIGKILL)
        os.unlink(path)
        print(f"{name}: stopped")
    if getattr(args, "purge", False) and os.path.isdir(home):
        shutil.rmtree(home)
        print(f"removed {home}")
    elif not pids:
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
