"""Shared pieces of the benchmarks: a real API server on a temporary home, a bare gRPC echo server
(the transport baseline), a realistic pod, percentiles and the table printer.

`python -m benchmarks.common echo --port-file F --reply-file R` runs the echo server (used as a
subprocess by benchmarks.api)."""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from cluster import ApiServerProcess  # noqa: E402  (tests/cluster.py: the server the tests use)

SERVICE = "minik8s.api.API"
# Same message limits the API server sets (apiserver/server.py), so the echo server's transport matches.
SERVER_OPTIONS = [("grpc.max_receive_message_length", 8 * 1024 * 1024),
                  ("grpc.max_send_message_length", 512 * 1024 * 1024),
                  ("grpc.so_reuseport", 0)]
ANNOTATION = "bench.minik8s.io/sent"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes
def bench_home(prefix: str = "minik8s-bench-") -> str:
    """A temporary state directory on the same filesystem as /tmp (fsync is real there, not tmpfs)."""
    return tempfile.mkdtemp(prefix=prefix)


class Server:
    """A real `python -m apiserver` subprocess on a free loopback port with a fresh home (tokens
    written by tests/cluster.py's ApiServerProcess). Retries start-up a few times: the server may be
    briefly unimportable while the code around it is being edited."""

    def __init__(self, retries: int = 3, retry_wait: float = 20.0, extra_args: tuple[str, ...] = (),
                 nodes: tuple[str, ...] = ()):
        self.home = bench_home()
        self.proc = ApiServerProcess(self.home, extra_args)
        if nodes:               # a token per node identity (system:node:NAME), beside the usual ones
            self.proc.add_identities({n: (f"system:node:{n}", "system:nodes") for n in nodes})
        last = None
        for attempt in range(retries):
            try:
                self.proc.start(timeout=60)
                break
            except (RuntimeError, TimeoutError) as e:
                last = e
                log(f"apiserver failed to start (attempt {attempt + 1}/{retries}): {str(e)[-400:]}")
                self.proc.kill()
                if attempt + 1 < retries:
                    time.sleep(retry_wait)
        else:
            raise RuntimeError(f"apiserver would not start: {last}")
        self.address = self.proc.address
        self.token = self.proc.tokens["admin"]
        self.pid = self.proc.proc.pid

    def rss(self) -> int:
        import psutil
        return psutil.Process(self.pid).memory_info().rss

    def cpu_seconds(self) -> float:
        import psutil
        t = psutil.Process(self.pid).cpu_times()
        return t.user + t.system

    def close(self, keep: bool = False) -> None:
        try:
            self.proc.close()
        finally:
            if not keep:
                shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(keep=exc[0] is not None)
        if exc[0] is not None:
            log(f"apiserver home kept for inspection: {self.home}")


class EchoServer:
    """A bare grpc.aio server in its own process speaking two of the API's methods with no auth, no
    validation and no storage: the transport's ceiling for the same client and message sizes.

    Create answers fixed bytes (a real create reply captured from minik8s in the same run). While
    Watch streams are open, each Create's object is also sent to every one of them as a WatchEvent,
    so the same watcher code measures bare gRPC fan-out."""

    def __init__(self, reply: bytes, timeout: float = 30.0):
        self.home = bench_home("minik8s-echo-")
        reply_file = os.path.join(self.home, "reply.bin")
        port_file = os.path.join(self.home, "port")
        with open(reply_file, "wb") as f:
            f.write(reply)
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self._log = open(os.path.join(self.home, "echo.log"), "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.common", "echo", "--port-file", port_file,
                                      "--reply-file", reply_file], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("echo server did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.address = f"127.0.0.1:{int(f.read())}"
        self.pid = self.proc.pid
        self.token = "unused"

    def cpu_seconds(self) -> float:
        import psutil
        t = psutil.Process(self.pid).cpu_times()
        return t.user + t.system

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (here, so the baseline shares no code with the server)."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | 0x80 if n else b)
            if not n:
                return bytes(out)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


async def _echo_main(port_file: str, reply_file: str) -> None:
    import grpc
    with open(reply_file, "rb") as f:
        reply = f.read()
    streams: set[asyncio.Queue] = set()

    async def create(request: bytes, context) -> bytes:
        if streams:
            from minik8s.api.pb import api_pb2
            obj = api_pb2.ObjectRequest.FromString(request).object
            # one WatchResponse.events entry: WatchEvent{type=ADDED, object, kind=Pod}
            entry = _field(1, _field(1, b"ADDED") + _field(2, obj) + _field(3, b"Pod"))
            for q in streams:
                q.put_nowait(entry)
        return reply

    async def watch(request: bytes, context):
        q: asyncio.Queue = asyncio.Queue()
        streams.add(q)
        try:
            while True:
                parts = [await q.get()]
                while not q.empty():
                    parts.append(q.get_nowait())
                yield b"".join(parts)
        finally:
            streams.discard(q)

    server = grpc.aio.server(options=SERVER_OPTIONS)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "Create": grpc.unary_unary_rpc_method_handler(create, None, None),
        "Watch": grpc.unary_stream_rpc_method_handler(watch, None, None)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(port_file + ".tmp", port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=1)


class Profiler:
    """py-spy on a server pid while a measure runs (enabled by --profile DIR); no-op otherwise.
    Extra py-spy flags (e.g. `--native`) come from $BENCH_PYSPY_ARGS."""

    def __init__(self, outdir: str | None, name: str, pid: int):
        self.proc = None
        self.path = None
        if not outdir:
            return
        exe = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
        if not os.path.exists(exe):
            log("py-spy not installed: --profile ignored")
            return
        os.makedirs(outdir, exist_ok=True)
        self.path = os.path.join(outdir, f"{name}.txt")
        self.proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                                      "--nonblocking", "--output", self.path,
                                      *os.environ.get("BENCH_PYSPY_ARGS", "").split()],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            log(f"profile written to {self.path}")


# ---------------------------------------------------------------- objects
class FakeCluster:
    """A cluster of fake nodes around `server`: the real scheduler as its own process (as under
    `minictl up`), the fake kubelets of `nodes` in this process (16 CPUs each; `kubelet` is extra
    kubelet settings in cluster-file YAML flow form), and the controller manager running `controllers`
    with `settings`. `async with` starts it all and stops it all; `admin` is the admin's client."""

    def __init__(self, server: "Server", nodes: list[str], controllers: str, settings: dict,
                 kubelet: str = "metricsPeriod: 3600"):
        self.server, self.node_names, self.controllers, self.settings = server, nodes, controllers, settings
        self.home = os.path.join(server.home, "bench")
        os.makedirs(self.home, exist_ok=True)
        self.cluster_file = os.path.join(self.home, "cluster.yaml")
        with open(self.cluster_file, "w") as f:
            f.write("runtime: fake\nnodes:\n" + "".join(f"- {{name: {n}, cpu: '16'}}\n" for n in nodes)
                    + f"kubelet: {{{kubelet}}}\n")

    async def __aenter__(self) -> "FakeCluster":
        from minik8s.client.aio import AsyncClient
        from minik8s.client.config import ClientConfig
        from minik8s.controllers.manager import ControllerManager
        from kubelet.fakenodes import FakeNodeHost

        srv, tokens = self.server, self.server.proc.tokens
        ClientConfig(server=srv.address, token="").save(self.home)
        token_file = os.path.join(self.home, "scheduler.token")
        with open(token_file, "w") as f:
            f.write(tokens["scheduler"])
        self._sched_log = open(os.path.join(self.home, "scheduler.log"), "ab")
        self.scheduler = subprocess.Popen([sys.executable, "-m", "minik8s.scheduler", "--home", self.home,
                                           "--token-file", token_file], cwd=ROOT, stdout=self._sched_log,
                                          stderr=self._sched_log)
        self.admin = AsyncClient(srv.address, srv.token)
        self._cm_client = AsyncClient(srv.address, tokens["controller-manager"])
        self.nodes = FakeNodeHost(self.home, self.node_names, self.cluster_file,
                                  base_client=AsyncClient(srv.address, srv.token),
                                  tokens={n: tokens[n] for n in self.node_names})
        self.manager = ControllerManager(self._cm_client, self.controllers, leader_elect=False,
                                         settings=self.settings)
        self._mgr_task = asyncio.create_task(self.manager.run())
        try:
            await self.nodes.start()
            await asyncio.wait_for(self.manager.running.wait(), 60)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        self.manager.stop()
        await asyncio.gather(self._mgr_task, return_exceptions=True)
        await self.nodes.stop()
        self.scheduler.terminate()
        self.scheduler.wait(10)
        self._sched_log.close()
        await self.admin.close()
        await self._cm_client.close()


def pod_template():
    """A small, realistic pod: labels, one container with ports, env, resources and a probe."""
    from minik8s.api import codec
    from minik8s.api.pb import core_pb2
    return codec.from_dict(core_pb2.Pod, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "template", "namespace": "default",
                     "labels": {"app": "web", "tier": "frontend", "pod-template-hash": "7d4b9c8f6d"}},
        "spec": {"containers": [{
            "name": "web", "image": "nginx:1.25",
            "ports": [{"name": "http", "containerPort": 80}],
            "env": [{"name": "MODE", "value": "production"}, {"name": "LOG_LEVEL", "value": "info"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "500m", "memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 5},
        }]},
    })


def make_pod(template, name: str, sent: float | None = None):
    pod = type(template)()
    pod.CopyFrom(template)
    pod.metadata.name = name
    if sent is not None:
        pod.metadata.annotations[ANNOTATION] = repr(sent)
    return pod


# ---------------------------------------------------------------- numbers
def percentile(values, q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    if not values:
        return float("nan")
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def timed_runs(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


# ---------------------------------------------------------------- the table
class Row:
    """One line of the table: a measured figure beside its same-run baseline.

    `higher_is_better` says which way the target goes; `target` is (op, value) in the row's unit or
    None; a target may also be relative to the baseline (`relative=True`, value a fraction)."""

    def __init__(self, measure: str, value: float | None, baseline: float | None, unit: str,
                 baseline_label: str = "", target: tuple[str, float] | None = None,
                 relative: bool = False, fmt: str = "{:,.1f}", note: str = "", na: str = ""):
        self.measure, self.value, self.baseline, self.unit = measure, value, baseline, unit
        self.baseline_label, self.target, self.relative = baseline_label, target, relative
        self.fmt, self.note, self.na = fmt, note, na

    def _num(self, v) -> str:
        if v is None or v != v:
            return "n/a"
        return self.fmt.format(v) + (f" {self.unit}" if self.unit else "")

    def cells(self) -> list[str]:
        if self.na:
            return [self.measure, self.na, "", "", self._target_text(), ""]
        base = self._num(self.baseline)
        if self.baseline_label:
            base = f"{base} ({self.baseline_label})"
        ratio = ""
        if self.value is not None and self.baseline and self.value == self.value and self.baseline == self.baseline:
            ratio = f"{self.value / self.baseline:.2f}x"
        return [self.measure, self._num(self.value), base, ratio, self._target_text(), self._met()]

    def _target_text(self) -> str:
        if not self.target:
            return self.note or "-"
        op, v = self.target
        if self.relative:
            return f"{op} {v:.0%} of baseline"
        return f"{op} {self.fmt.format(v)} {self.unit}".strip()

    def _met(self) -> str:
        if not self.target or self.na or self.value is None or self.value != self.value:
            return ""
        op, v = self.target
        x = self.value / self.baseline if self.relative else self.value
        if self.relative and not self.baseline:
            return ""
        ok = x >= v if op == ">=" else x <= v
        return "yes" if ok else "NO"


def print_table(rows: list[Row], out=None) -> None:
    out = out or sys.stdout
    header = ["measure", "minik8s", "baseline (same run)", "ratio", "target", "met"]
    body = [r.cells() for r in rows]
    widths = [max(len(header[i]), *(len(b[i]) for b in body)) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(header), file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for b in body:
        print(line(b), file=out)
    out.flush()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.common")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo", help="run the bare gRPC echo server")
    e.add_argument("--port-file", required=True)
    e.add_argument("--reply-file", required=True)
    args = p.parse_args(argv)
    if args.cmd == "echo":
        asyncio.run(_echo_main(args.port_file, args.reply_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
