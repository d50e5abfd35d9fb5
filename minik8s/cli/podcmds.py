"""`minictl logs`, `minictl exec` and `minictl top nodes|pods`: the commands that reach into a pod's
containers (through the API server and the node's kubelet tunnel) or read the usage kubelets publish
(metrics.k8s.io NodeMetrics / PodMetrics), with kubectl's flags, output and messages.

`logs` falls back to the API server's log archive once a pod, its node or its Job is gone (saying so on
stderr), reads a Job's pods (`job/NAME`, `--all-pods`) and a selector's, and follows a container
across its restarts through the archive.

Nothing heavy is imported at module level: main.py imports this file for its command table (COMMANDS)."""
from __future__ import annotations

import os
import sys
import threading


# ---------------------------------------------------------------- flags
def _container_flag(p):
    p.add_argument("-c", "--container", default="", help="container name (default: the only one, or the first)")


def logs_flags(p):
    p.add_argument("pod", nargs="?", default="", metavar="POD | TYPE/NAME (pod, job, deploy, rs, sts, ds, svc)")
    _container_flag(p)
    p.add_argument("-l", "--selector", default="", help="label selector: the logs of every matching pod, "
                   "live or archived")
    p.add_argument("--all-pods", action="store_true", help="job/NAME: every pod of the job, each line prefixed")
    p.add_argument("--prefix", action="store_true", help="prefix each line with [pod/NAME/CONTAINER]")
    p.add_argument("-f", "--follow", action="store_true", help="stream the log until the container stops")
    p.add_argument("-p", "--previous", action="store_true", help="the log of the previous, terminated container")
    p.add_argument("--tail", type=int, default=-1, help="lines from the end to show (-1: all)")
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its RFC3339 timestamp")
    p.add_argument("--since", help="only lines newer than a duration, e.g. 5s, 2m, 3h")
    p.add_argument("--limit-bytes", type=int, help="stop after this many bytes")


def exec_flags(p):
    p.add_argument("pod", metavar="POD | pod/POD")
    _container_flag(p)
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the container")
    p.add_argument("-t", "--tty", action="store_true", help="stdin is a TTY")
    p.add_argument("command", nargs="*", metavar="-- COMMAND [args...]")


def top_flags(p):
    p.add_argument("kind", metavar="nodes|pods")
    p.add_argument("name", nargs="?", default=None)
    p.add_argument("-l", "--selector", default="", help="label selector")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--containers", action="store_true", help="pods: one line per container")
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("--sort-by", choices=("cpu", "memory"), help="sort by cpu or memory")
    p.add_argument("--bins", action="store_true", help="nodes: draw each node as a bin filled by its pods' requests")
    p.add_argument("-w", "--watch", action="store_true", help="with --bins: redraw every 2 seconds")


# name, implementation, help, flags: main.py adds these to its COMMANDS
COMMANDS = [
    ("logs", "podcmds:cmd_logs", "Print the logs for a container in a pod", logs_flags),
    ("exec", "podcmds:cmd_exec", "Execute a command in a container", exec_flags),
    ("top", "podcmds:cmd_top", "Display resource (CPU/memory) usage of nodes or pods", top_flags),
]


# ---------------------------------------------------------------- shared
def _pod_name(word: str) -> str:
    from minik8s.cli.common import CliError
    kind, sep, name = word.partition("/")
    if not sep:
        return word
    if kind not in ("pod", "pods", "po"):
        raise CliError(f'{kind}/{name}: only pods have logs and exec here ("POD" or "pod/POD")')
    return name


def _since_seconds(text: str | None) -> int | None:
    if not text:
        return None
    from minik8s.cli.common import parse_duration
    return max(1, int(parse_duration(text) + 0.999))


# ---------------------------------------------------------------- logs
def cmd_logs(args) -> int:
    from minik8s.cli.common import CliError, client_for, namespace_of
    ns = namespace_of(args)
    if bool(args.pod) == bool(args.selector):
        raise CliError("expected POD, TYPE/NAME or -l SELECTOR (one of them)")
    kind, sep, name = args.pod.partition("/")
    with client_for(args) as c:
        if args.selector:
            return _logs_selected(c, args, ns)
        if sep and kind in ("job", "jobs", "job.batch"):
            return _logs_job(c, args, ns, name)
        if sep and kind not in ("pod", "pods", "po"):
            return _logs_pod(c, args, ns, _first_pod(c, ns, kind, name))
        return _logs_pod(c, args, ns, _pod_name(args.pod))


def _logging_rank(pod) -> tuple:
    """kubectl's order for picking the pod whose logs to show: on a node, Running, Ready, ready longest,
    most restarts, oldest."""
    phase = {"Running": 0, "Unknown": 1, "Pending": 2}.get(pod.status.phase, 3)
    ready = [c for c in pod.status.conditions if c.type == "Ready" and c.status == "True"]
    since = ready[0].lastTransitionTime if ready and ready[0].lastTransitionTime else "~"
    restarts = sum(cs.restartCount for cs in pod.status.containerStatuses)
    return (not pod.spec.nodeName, phase, not ready, since, -restarts, pod.metadata.creationTimestamp or "~",
            pod.metadata.name)


def _first_pod(c, ns: str, kind: str, name: str) -> str:
    """The pod kubectl shows for `logs deploy/X` (rs/, sts/, ds/, svc/): of the pods the object selects,
    the best by kubectl's logging order, named on stderr when there are several."""
    from minik8s.api.selectors import from_label_selector_obj
    from minik8s.cli.common import CliError, lookup
    info = lookup(kind)
    if info.kind not in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Service"):
        raise CliError(f"cannot get the logs of a {info.kind}: pods, jobs, deployments, replicasets, "
                       "statefulsets, daemonsets and services have logs")
    obj = c.get(info, name, ns)
    if info.kind == "Service":
        selector = ",".join(f"{k}={v}" for k, v in sorted(obj.spec.selector.items()))
    else:
        selector = str(from_label_selector_obj(obj.spec.selector))
    pods = sorted(c.list("Pod", ns, label_selector=selector), key=_logging_rank) if selector else []
    if not pods:
        raise CliError(f"timed out waiting for the condition: no pods of {info.resource}/{name}")
    if len(pods) > 1:
        print(f"Found {len(pods)} pods, using pod/{pods[0].metadata.name}", file=sys.stderr)
    return pods[0].metadata.name


class _Output:
    """stdout, with --limit-bytes and the [pod/NAME/CONTAINER] prefix on every line when asked."""

    def __init__(self, limit: int | None):
        self.out, self.left = sys.stdout.buffer, limit

    def write(self, data: bytes, prefix: str = "") -> bool:
        """False once the byte limit is reached."""
        if prefix:
            tag = f"[{prefix}] ".encode()
            data = b"".join(tag + ln + b"\n" for ln in data.split(b"\n")[:-1])
        if self.left is not None:
            data, self.left = data[:self.left], self.left - len(data[:self.left])
        self.out.write(data)
        self.out.flush()
        return self.left is None or self.left > 0


def _read_archive(c, args, key, out: _Output, prefix: bool) -> None:
    for chunk in c.read_logs(key, follow=args.follow, tail_lines=args.tail if args.tail >= 0 else None,
                             since_seconds=_since_seconds(args.since), timestamps=args.timestamps):
        tag = f"pod/{chunk.key.pod}/{chunk.key.container}" if prefix else ""
        if not out.write(chunk.data, tag):
            return


def _archived(c, ns: str, pod: str = "", selector: str = ""):
    from minik8s.api.errors import Unavailable
    try:
        return list(c.list_log_streams(ns, pod, selector).streams)
    except Unavailable:
        return []          # the archive is off on this server


def _pick_stream(streams, container: str, previous: bool, pod: str):
    """Of one pod's archived streams (the newest pod of that name), the container's latest restart, or
    the one before it with --previous."""
    from minik8s.cli.common import CliError
    uid = streams[-1].key.uid
    mine = [s for s in streams if s.key.uid == uid]
    names = list(dict.fromkeys(s.key.container for s in mine))
    if not container:
        if len(names) > 1:
            print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
        container = names[0]
    runs = sorted((s for s in mine if s.key.container == container), key=lambda s: s.key.restart)
    if not runs:
        raise CliError(f"container {container} is not valid for pod {pod}")
    if previous:
        if len(runs) < 2:
            raise CliError(f'previous terminated container "{container}" in pod "{pod}" not found')
        return runs[-2]
    return runs[-1]


def _logs_pod(c, args, ns: str, name: str) -> int:
    from minik8s.api.errors import NotFound, Unavailable
    from minik8s.cli.common import default_container
    out = _Output(args.limit_bytes)
    try:
        pod = c.get("Pod", name, ns)
    except NotFound:
        pod = None
    streams = _archived(c, ns, name)
    if pod is not None:
        streams = [s for s in streams if s.key.uid == pod.metadata.uid]
        container = default_container(c, name, ns, args.container)
        if args.follow and streams:             # the archive follows the container across restarts
            key = _pick_stream(streams, container, args.previous, name).key
            _read_archive(c, args, key, out, args.prefix)
            return 0
        try:
            stream = c.logs(name, ns, container=container, follow=args.follow, previous=args.previous,
                            tail_lines=args.tail if args.tail >= 0 else None, timestamps=args.timestamps,
                            since_seconds=_since_seconds(args.since))
            for chunk in stream:
                if not out.write(chunk, f"pod/{name}/{container}" if args.prefix else ""):
                    break
            return 0
        except Unavailable as e:
            if not streams:
                raise
            print(f"{e.message}; showing the pod's archived logs", file=sys.stderr)
    elif not streams:
        from minik8s.cli.common import CliError
        raise CliError(f'pods "{name}" not found')
    else:
        print(f"pod {name} not found; showing its archived logs", file=sys.stderr)
    key = _pick_stream(streams, args.container, args.previous, name).key
    _read_archive(c, args, key, out, args.prefix)
    return 0


def _logs_job(c, args, ns: str, name: str) -> int:
    """kubectl's job/NAME (one pod of the job; --all-pods every attempt), from the archive once the Job
    or its pods are gone."""
    from minik8s.api.errors import NotFound
    from minik8s.cli.common import CliError
    try:
        job = c.get("Job", name, ns)
        live = sorted(c.list("Pod", ns, label_selector=f"batch.kubernetes.io/controller-uid={job.metadata.uid}"),
                      key=lambda p: p.metadata.creationTimestamp)
    except NotFound:
        live = []
    if live and not args.all_pods:
        return _logs_pod(c, args, ns, live[-1].metadata.name)
    streams = _archived(c, ns, selector=f"batch.kubernetes.io/job-name={name}") or \
        _archived(c, ns, selector=f"job-name={name}")
    if not streams:
        if live:
            return _logs_selected(c, args, ns, pods=live)
        raise CliError(f'jobs.batch "{name}" not found')
    if not live:
        print(f"job {name} not found; showing its archived logs", file=sys.stderr)
    if not args.all_pods:
        uid = streams[-1].key.uid
        key = _pick_stream([s for s in streams if s.key.uid == uid], args.container, args.previous,
                           streams[-1].key.pod).key
        _read_archive(c, args, key, _Output(args.limit_bytes), args.prefix)
        return 0
    return _logs_streams(c, args, [s for s in streams if not args.container or s.key.container == args.container])


def _logs_streams(c, args, streams) -> int:
    """Every archived stream in turn (oldest pod first), each line prefixed as kubectl's --prefix."""
    out = _Output(args.limit_bytes)
    args.follow = False              # each attempt in turn: none is followed
    for s in streams:
        _read_archive(c, args, s.key, out, True)
    return 0


def _logs_selected(c, args, ns: str, pods=None) -> int:
    """-l SELECTOR: the live pods' logs through their nodes, then the archived logs of matching pods that
    are gone; lines prefixed when asked or when several pods answer."""
    pods = pods if pods is not None else list(c.list("Pod", ns, label_selector=args.selector))
    live = {p.metadata.uid for p in pods}
    gone = [s for s in (_archived(c, ns, selector=args.selector) if args.selector else []) if s.key.uid not in live]
    prefix = args.prefix or len(pods) + len({s.key.uid for s in gone}) > 1
    out = _Output(args.limit_bytes)
    for p in pods:
        container = args.container or p.spec.containers[0].name
        for chunk in c.logs(p.metadata.name, ns, container=container, previous=args.previous,
                            tail_lines=args.tail if args.tail >= 0 else None, timestamps=args.timestamps,
                            since_seconds=_since_seconds(args.since)):
            if not out.write(chunk, f"pod/{p.metadata.name}/{container}" if prefix else ""):
                return 0
    if gone:
        print(f"{len({s.key.uid for s in gone})} matching pod(s) are gone; showing their archived logs",
              file=sys.stderr)
        latest = {}
        for s in gone:
            if not args.container or s.key.container == args.container:
                latest[(s.key.uid, s.key.container)] = s          # the newest restart of each container
        for s in latest.values():
            _read_archive(c, args, s.key, out, prefix)
    return 0


# ---------------------------------------------------------------- exec
def cmd_exec(args) -> int:
    from minik8s.client.transport import from_rpc_error
    from minik8s.api.pb import api_pb2
    from minik8s.cli.common import CliError, client_for, default_container, namespace_of
    import grpc

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("you must specify at least one command for the container")
    ns = namespace_of(args)
    name = _pod_name(args.pod)
    tty = args.tty and args.stdin and sys.stdin.isatty()
    if args.tty and not tty:
        print("Unable to use a TTY - input is not a terminal or the right kind of file", file=sys.stderr)
    with client_for(args) as c:
        container = default_container(c, name, ns, args.container)
        stdin_frames = _StdinFrames(args.stdin, tty)
        first = api_pb2.ExecRequest(namespace=ns, name=name, container=container, command=command,
                                    stdin=args.stdin, tty=tty)
        code = 0
        restore = _raw_terminal() if tty else None
        try:
            for o in c.exec_stream(stdin_frames.requests(first)):
                if o.stdout:
                    sys.stdout.buffer.write(o.stdout)
                    sys.stdout.buffer.flush()
                if o.stderr:
                    sys.stderr.buffer.write(o.stderr)
                    sys.stderr.buffer.flush()
                if o.error:
                    raise CliError(o.error)
                if o.HasField("exitCode"):
                    code = o.exitCode
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            stdin_frames.stop()
            if restore:
                restore()
    if code != 0:
        print(f"command terminated with exit code {code}", file=sys.stderr)
    return code


class _StdinFrames:
    """The ExecRequests after the first: stdin read on a thread, EOF as stdinClose."""

    def __init__(self, enabled: bool, tty: bool):
        import queue
        self.enabled, self.tty = enabled, tty
        self._q: queue.Queue = queue.Queue()
        self._stopped = threading.Event()

    def _reader(self) -> None:
        from minik8s.api.pb import api_pb2
        fd = sys.stdin.fileno()
        while not self._stopped.is_set():
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                self._q.put(api_pb2.ExecRequest(stdinClose=True))
                return
            self._q.put(api_pb2.ExecRequest(stdinData=data))

    def requests(self, first):
        from minik8s.api.pb import api_pb2
        yield first
        if not self.enabled:
            return
        if self.tty:
            try:
                size = os.get_terminal_size()
                yield api_pb2.ExecRequest(resize=api_pb2.TerminalSize(width=size.columns, height=size.lines))
            except OSError:
                pass
        threading.Thread(target=self._reader, daemon=True).start()
        while True:
            item = self._q.get()
            if item is None:
                return
            yield item
            if item.stdinClose:
                return

    def stop(self) -> None:
        self._stopped.set()
        self._q.put(None)


def _raw_terminal():
    try:
        import termios
        import tty
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        tty.setraw(fd)
    except Exception:
        return None
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# ---------------------------------------------------------------- top
def _millis(q: str) -> int:
    from minik8s.api.quantity import cpu_millis
    return cpu_millis(q or "0")


def _bytes(q: str) -> int:
    from minik8s.api.quantity import bytes_value
    return bytes_value(q or "0")


def _cpu_cell(m: int) -> str:
    return f"{m}m"


def _mem_cell(b: int) -> str:
    return f"{b // (1024 * 1024)}Mi"


def cmd_top(args) -> int:
    from minik8s.cli.common import CliError
    kind = args.kind.lower()
    if kind in ("node", "nodes", "no"):
        return _top_nodes(args)
    if kind in ("pod", "pods", "po"):
        return _top_pods(args)
    raise CliError(f'unknown resource "{args.kind}" for top: use nodes or pods')


def _top_nodes(args) -> int:
    if args.bins:
        from minik8s.cli.bins import show_bins
        return show_bins(args)
    from minik8s.api.errors import NotFound
    from minik8s.cli.printers import tabwrite
    from minik8s.cli.common import CliError, client_for
    with client_for(args) as c:
        if args.name:
            try:
                nodes = [c.get("Node", args.name)]
            except NotFound:
                raise CliError(f'nodes "{args.name}" not found') from None
        else:
            nodes = list(c.list("Node", label_selector=args.selector))
        metrics = {m.metadata.name: m for m in c.list("NodeMetrics")}
    if args.name and args.name not in metrics:
        raise CliError("metrics not available yet")
    if not any(n.metadata.name in metrics for n in nodes):
        raise CliError("metrics not available yet")
    rows = []
    for n in nodes:
        m = metrics.get(n.metadata.name)
        if m is None:
            rows.append((n.metadata.name, None, None, None, None))
            continue
        cpu, mem = _millis(m.usage.get("cpu")), _bytes(m.usage.get("memory"))
        alloc_cpu = _millis(n.status.allocatable.get("cpu") or n.status.capacity.get("cpu"))
        alloc_mem = _bytes(n.status.allocatable.get("memory") or n.status.capacity.get("memory"))
        rows.append((n.metadata.name, cpu, mem, cpu * 100 // alloc_cpu if alloc_cpu else 0,
                     mem * 100 // alloc_mem if alloc_mem else 0))
    rows.sort(key=lambda r: r[0])
    if args.sort_by:
        idx = 1 if args.sort_by == "cpu" else 2
        rows.sort(key=lambda r: -(r[idx] or 0))
    lines = [] if args.no_headers else ["NAME\tCPU(cores)\tCPU%\tMEMORY(bytes)\tMEMORY%"]
    for name, cpu, mem, cpu_pct, mem_pct in rows:
        if cpu is None:
            lines.append(f"{name}\t<unknown>\t<unknown>\t<unknown>\t<unknown>")
        else:
            lines.append(f"{name}\t{_cpu_cell(cpu)}\t{cpu_pct}%\t{_mem_cell(mem)}\t{mem_pct}%")
    print(tabwrite(lines))
    return 0


def _top_pods(args) -> int:
    from minik8s.cli.printers import tabwrite
    from minik8s.cli.common import CliError, client_for, namespace_of
    ns = "" if args.all_namespaces else namespace_of(args)
    with client_for(args) as c:
        items = list(c.list("PodMetrics", ns, label_selector=args.selector))
    if args.name:
        items = [m for m in items if m.metadata.name == args.name]
        if not items:
            raise CliError(f"Metrics not available for pod {ns}/{args.name}")
    if not items:
        where = "" if args.all_namespaces else f" in {ns} namespace"
        print(f"No resources found{where}.", file=sys.stderr)
        return 0
    rows = []
    for m in items:
        conts = [(cm.name, _millis(cm.usage.get("cpu")), _bytes(cm.usage.get("memory"))) for cm in m.containers]
        if args.containers:
            rows.extend((m.metadata.namespace, m.metadata.name, cn, cpu, mem) for cn, cpu, mem in conts)
        else:
            rows.append((m.metadata.namespace, m.metadata.name, "", sum(x[1] for x in conts),
                         sum(x[2] for x in conts)))
    if args.sort_by:
        idx = 3 if args.sort_by == "cpu" else 4
        rows.sort(key=lambda r: -r[idx])
    else:
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
    head = (["NAMESPACE"] if args.all_namespaces else []) + (["POD", "NAME"] if args.containers else ["NAME"]) \
        + ["CPU(cores)", "MEMORY(bytes)"]
    lines = [] if args.no_headers else ["\t".join(head)]
    for namespace, pod, cname, cpu, mem in rows:
        cells = ([namespace] if args.all_namespaces else []) + ([pod, cname] if args.containers else [pod]) \
            + [_cpu_cell(cpu), _mem_cell(mem)]
        lines.append("\t".join(cells))
    print(tabwrite(lines))
    return 0
