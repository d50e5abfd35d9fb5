"""Container probes, after upstream's prober (prober/worker.go, prober.go): one worker per container
and probe kind (liveness, readiness, startup), each probing every periodSeconds once
initialDelaySeconds have passed since the container started, counting consecutive results against
successThreshold / failureThreshold before a result takes effect.

Readiness starts as failure and drives the container's `ready`; startup gates the other two until it
succeeds; a liveness (or startup) failure puts the worker on hold until the pod worker has killed the
container and a new one appears. Every failed probe records an `Unhealthy` event, as upstream does.
Intervals come from the injected Clock."""
from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Callable

from minik8s.api.clock import Clock
from minik8s.client.events import WARNING

from kubelet.runtime.base import ContainerStatus

log = logging.getLogger("kubelet.probes")

LIVENESS, READINESS, STARTUP = "Liveness", "Readiness", "Startup"
_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
USER_AGENT = "kube-probe/1.30"


@dataclass
class ProbeResult:
    success: bool
    output: str = ""


def resolve_port(container, port) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    kind = port.WhichOneof("kind") if port is not None else None
    if kind == "number_value":
        return int(port.number_value)
    if kind == "string_value":
        text = port.string_value
        if text.isdigit():
            return int(text)
        for p in container.ports:
            if p.name == text:
                return p.containerPort
        raise ValueError(f"couldn't find port: {text} in {container.name}")
    raise ValueError("probe port is not set")


async def http_get(host: str, port: int, path: str, scheme: str, headers, timeout: float) -> ProbeResult:
    url = f"{scheme.lower()}://{host}:{port}{path}"
    try:
        ctx = None
        if scheme.upper() == "HTTPS":
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), timeout)
    except asyncio.TimeoutError:
        return ProbeResult(False, f'Get "{url}": context deadline exceeded')
    except OSError as e:
        return ProbeResult(False, f'Get "{url}": dial tcp {host}:{port}: connect: {_errno_text(e)}')
    try:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", f"User-Agent: {USER_AGENT}", "Accept: */*",
                 "Connection: close"]
        lines += [f"{h.name}: {h.value}" for h in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        parts = status_line.decode(errors="replace").split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return ProbeResult(False, f'Get "{url}": malformed HTTP response {status_line[:64]!r}')
        code = int(parts[1])
        if 200 <= code < 400:
            return ProbeResult(True)
        return ProbeResult(False, f"HTTP probe failed with statuscode: {code}")
    except asyncio.TimeoutError:
        return ProbeResult(False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                                  "awaiting headers)")
    except OSError as e:
        return ProbeResult(False, f'Get "{url}": {_errno_text(e)}')
    finally:
        writer.close()


async def tcp_socket(host: str, port: int, timeout: float) -> ProbeResult:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        return ProbeResult(False, f"dial tcp {host}:{port}: i/o timeout")
    except OSError as e:
        return ProbeResult(False, f"dial tcp {host}:{port}: connect: {_errno_text(e)}")
    writer.close()
    return ProbeResult(True)


def _errno_text(e: OSError) -> str:
    return (e.strerror or str(e)).lower()


class Prober:
    """Runs one probe action against a container."""

    def __init__(self, runtime):
        self.runtime = runtime

    async def run(self, probe, container, cid: str, pod_ip: str) -> ProbeResult:
        timeout = float(probe.timeoutSeconds or 1)
        try:
            if probe.HasField("exec"):
                return await self._exec(list(probe.exec.command), cid, timeout)
            if self.runtime.name == "fake":
                return ProbeResult(True)     # nothing listens in a fake pod: network probes pass
            if probe.HasField("httpGet"):
                g = probe.httpGet
                return await http_get(g.host or pod_ip or "127.0.0.1", resolve_port(container, g.port),
                                      g.path or "/", g.scheme or "HTTP", g.httpHeaders, timeout)
            if probe.HasField("tcpSocket"):
                t = probe.tcpSocket
                return await tcp_socket(t.host or pod_ip or "127.0.0.1", resolve_port(container, t.port), timeout)
            if probe.HasField("grpc"):
                return ProbeResult(False, "grpc probes are not supported by minik8s")
        except ValueError as e:
            return ProbeResult(False, str(e))
        return ProbeResult(False, "missing probe handler")

    async def _exec(self, command: list[str], cid: str, timeout: float) -> ProbeResult:
        try:
            code, out = await asyncio.wait_for(self.runtime.exec_sync(cid, command, timeout), timeout + 1)
        except asyncio.TimeoutError:
            return ProbeResult(False, f"command {_quote_cmd(command)} timed out")
        except Exception as e:          # the runtime could not exec at all
            return ProbeResult(False, getattr(e, "message", str(e)))
        text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
        if code == 0:
            return ProbeResult(True, text)
        return ProbeResult(False, text.rstrip("\n") if text.strip() else
                           f"command {_quote_cmd(command)} exited with {code}")


def _quote_cmd(command: list[str]) -> str:
    return '"' + " ".join(command) + '"'


@dataclass
class _Target:
    pod: object
    container: object
    status: ContainerStatus | None
    pod_ip: str


class ProbeWorker:
    def __init__(self, manager: "ProbeManager", uid: str, cname: str, kind: str):
        self.manager, self.uid, self.cname, self.kind = manager, uid, cname, kind
        self.container_id = ""
        self.on_hold = False
        self.last_result: bool | None = None
        self.result_run = 0
        self.task: asyncio.Task | None = None

    def probe_spec(self, container):
        return getattr(container, _FIELDS[self.kind])

    async def run(self) -> None:
        try:
            while True:
                target = self.manager.target(self.uid, self.cname)
                if target is None or not target.container.HasField(_FIELDS[self.kind]):
                    return
                keep = await self.do_probe(target)
                if not keep:
                    return
                await self.manager.clock.sleep(float(self.probe_spec(target.container).periodSeconds or 10))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("probe worker %s/%s %s failed", self.uid, self.cname, self.kind)

    async def do_probe(self, t: _Target) -> bool:
        m = self.manager
        cs = t.status
        if cs is None or not cs.id:
            return True
        if cs.id != self.container_id:
            if self.container_id:
                m.forget(self.kind, self.container_id)
            self.container_id = cs.id
            self.on_hold = False
            self.last_result, self.result_run = None, 0
        if self.on_hold:
            return True
        if cs.state != "running":
            if self.kind != LIVENESS:
                m.set(self.uid, self.kind, cs.id, False)
            return cs.state != "exited" or t.pod.spec.restartPolicy != "Never"
        spec = self.probe_spec(t.container)
        if m.clock.now() - cs.started_at < spec.initialDelaySeconds:
            return True
        started = m.results.get((STARTUP, cs.id), not t.container.HasField("startupProbe"))
        if self.kind == STARTUP and started:
            return True
        if self.kind != STARTUP and not started:
            return True
        result = await m.prober.run(spec, t.container, cs.id, t.pod_ip)
        if self.container_id != cs.id:
            return True                  # the container changed while we probed
        if not result.success:
            m.record(t.pod, self.cname, WARNING, "Unhealthy", f"{self.kind} probe failed: {result.output}")
        if self.last_result == result.success:
            self.result_run += 1
        else:
            self.last_result, self.result_run = result.success, 1
        threshold = (spec.successThreshold or 1) if result.success else (spec.failureThreshold or 3)
        if self.result_run < threshold:
            return True
        m.set(self.uid, self.kind, cs.id, result.success)
        if self.kind in (LIVENESS, STARTUP) and not result.success:
            self.on_hold = True          # the pod worker kills it; probing resumes on a new container
            self.result_run = 0
        return True


class ProbeManager:
    """Owns the probe workers of every pod on the node and their latest results."""

    def __init__(self, runtime, clock: Clock, recorder, on_change: Callable[[str], None],
                 container_ref: Callable):
        self.prober = Prober(runtime)
        self.clock = clock
        self.recorder = recorder
        self.on_change = on_change
        self.container_ref = container_ref
        self.results: dict[tuple[str, str], bool] = {}        # (kind, container id) -> result
        self._targets: dict[tuple[str, str], _Target] = {}      # (uid, name) -> what to probe
        self._workers: dict[tuple[str, str, str], ProbeWorker] = {}

    # ------------------------------------------------------------------ the pod worker's side
    def update_pod(self, pod, latest: dict[str, ContainerStatus], pod_ip: str) -> None:
        """Tell the probers what the pod looks like now; start workers for new probed containers."""
        uid = pod.metadata.uid
        for c in pod.spec.containers:
            self._targets[(uid, c.name)] = _Target(pod, c, latest.get(c.name), pod_ip)
            for kind, field in _FIELDS.items():
                key = (uid, c.name, kind)
                if c.HasField(field) and (key not in self._workers or self._workers[key].task.done()):
                    w = ProbeWorker(self, uid, c.name, kind)
                    w.task = asyncio.get_running_loop().create_task(w.run(), name=f"probe-{uid}-{c.name}-{kind}")
                    self._workers[key] = w

    def remove_pod(self, uid: str) -> None:
        for key in [k for k in self._workers if k[0] == uid]:
            w = self._workers.pop(key)
            w.task.cancel()
            if w.container_id:
                self.forget(w.kind, w.container_id)
        for key in [k for k in self._targets if k[0] == uid]:
            del self._targets[key]

    def readiness(self) -> dict[str, bool]:
        return {cid: v for (kind, cid), v in self.results.items() if kind == READINESS}

    def startup(self) -> dict[str, bool]:
        return {cid: v for (kind, cid), v in self.results.items() if kind == STARTUP}

    def failed(self, cid: str) -> str | None:
        """`Liveness` or `Startup` when that probe has failed for container `cid`, else None."""
        if self.results.get((LIVENESS, cid)) is False:
            return LIVENESS
        if self.results.get((STARTUP, cid)) is False:
            return STARTUP
        return None

    # ------------------------------------------------------------------ the workers' side
    def target(self, uid: str, cname: str) -> _Target | None:
        return self._targets.get((uid, cname))

    def set(self, uid: str, kind: str, cid: str, value: bool) -> None:
        if self.results.get((kind, cid)) != value:
            self.results[(kind, cid)] = value
            self.on_change(uid)

    def forget(self, kind: str, cid: str) -> None:
        self.results.pop((kind, cid), None)

    def record(self, pod, cname: str, type_: str, reason: str, message: str) -> None:
        self.recorder.event(self.container_ref(pod, cname), type_, reason, message)

    async def stop(self) -> None:
        tasks = [w.task for w in self._workers.values()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
