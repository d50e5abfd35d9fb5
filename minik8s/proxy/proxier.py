"""The service proxy: Services and Endpoints (informers) in, listening sockets and routes out.

Level-triggered like the controllers: the Service and Endpoints handlers only put the service's key
(`namespace/name`) on a work queue, and `sync_service(key)` makes this proxy's routes, listeners and
cluster IPs for that service equal to what the caches say: a Route per TCP service port holding the
ready addresses of the Endpoints object (the EndpointPort of the same name), a listener on
`ClusterIP:port` (cluster IPs on) and on `ADDRESS:nodePort` for each node-port address (NodePort
and LoadBalancer services), and the ClusterIP on the proxy's dummy interface.

Readiness is checked twice: the Endpoints object lists only ready pods, and every new connection
also looks the pod up in the proxy's own pod cache and skips it once that says it is not ready, is
terminating, or is gone. The pod watch usually lands before the endpoints controller has even
rewritten the Endpoints object, so a pod that fails its readiness probe or is being deleted gets no
new connection from the moment its status reaches the proxy.

Several proxies on one host (one per node of a `minictl up --nodes N` cluster) share the host's
network stack, so one of them serves and the others stand by: the active proxy holds an exclusive
lock on HOME/run/proxy.lock, and a standby keeps its caches and routes warm. An active proxy that
stops hands a standby its lock and listening sockets and stops accepting only once the standby serves
them, then lets its open connections finish (handover.py): the service addresses never refuse a
connection. One that dies just drops the lock, and a standby takes over that instant. Any of them can
serve everything: every proxy knows every service and endpoint."""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from minik8s.api.clock import Clock
from minik8s.api.service_env import is_service_ip_set
from minik8s.client.informer import SharedInformerFactory, key_of
from minik8s.client.workqueue import WorkQueue, run_workers

from minik8s.client.hostaddr import HostAddresses
from minik8s.proxy.handover import Standby, offer, wait_serving
from minik8s.proxy.hostnet import DestinationPolicy
from minik8s.proxy.tcp import Backend, Listener, Route, describe_bind_error

log = logging.getLogger("minik8s.proxy")

BIND_RETRY_BASE = 0.5       # a port we could not bind is tried again after 0.5 s, 1 s, ... 10 s
BIND_RETRY_CAP = 10.0
HANDOVER_TIMEOUT = 5.0      # how long a leaving proxy waits for its successor to serve
DRAIN_TIMEOUT = 5.0         # how long a stopping proxy lets its open connections finish


def pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def backends_for(endpoints, port_name: str) -> list[Backend]:
    """The ready addresses of `endpoints` for the service port named `port_name`, in object order."""
    out: list[Backend] = []
    if endpoints is None:
        return out
    seen = set()
    for subset in endpoints.subsets:
        port = next((p for p in subset.ports if p.name == port_name and (p.protocol or "TCP") == "TCP"), None)
        if port is None:
            continue
        for addr in subset.addresses:
            ref = addr.targetRef
            pod = f"{ref.namespace}/{ref.name}" if ref.kind == "Pod" and ref.name else ""
            b = Backend(addr.ip, port.port, pod, ref.uid if pod else "")
            if (b.ip, b.port) not in seen:
                seen.add((b.ip, b.port))
                out.append(b)
    return out


class HostLock:
    """An exclusive flock on a file: who holds it is the host's active proxy for one cluster."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self._waiting: asyncio.Future | None = None

    def try_acquire(self) -> bool:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def acquire(self) -> None:
        """Wait for the lock: a daemon thread blocks in flock (it never holds up interpreter exit)."""
        if self.try_acquire():
            return
        loop = asyncio.get_running_loop()
        got: asyncio.Future = loop.create_future()

        def hand_over(fd: int) -> None:
            if got.done():              # nobody waits any more
                os.close(fd)
            else:
                got.set_result(fd)

        def wait() -> None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                loop.call_soon_threadsafe(hand_over, fd)
            except RuntimeError:        # the loop is gone: we are exiting
                os.close(fd)

        threading.Thread(target=wait, name="proxy-lock", daemon=True).start()
        self._waiting = got
        try:
            self._fd = await got
        except asyncio.CancelledError:
            got.cancel()
            raise
        finally:
            self._waiting = None

    def adopt(self, fd: int) -> None:
        """Hold the lock through `fd`, a descriptor of the locked file a leaving holder passed on
        (the lock belongs to the open file, so it is held without a gap); a waiting acquire() returns."""
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(fd)
        else:
            self.release()
            self._fd = fd

    @property
    def fd(self) -> int | None:
        return self._fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ServiceProxy:
    def __init__(self, client, node_name: str = "", clock: Clock | None = None,
                 nodeport_addresses: tuple[str, ...] = ("127.0.0.1",), cluster_ips: bool = True,
                 iface: str | None = None, lock_path: str | None = None,
                 policy: DestinationPolicy | None = None, informers: SharedInformerFactory | None = None,
                 api_server=None):
        self.client = client
        self.node_name = node_name
        self.clock = clock or Clock()
        self.factory = informers or SharedInformerFactory(client, self.clock)
        self.services = self.factory.informer("Service")
        self.endpoints = self.factory.informer("Endpoints")
        self.pods = self.factory.informer("Pod")
        self.nodes = self.factory.informer("Node")
        self.nodeport_addresses = tuple(nodeport_addresses)
        self.policy = policy or DestinationPolicy(self._pod_cidrs, self.clock, api_server=api_server)
        self.queue = WorkQueue(self.clock, "proxy")
        self.routes: dict[tuple[str, str], Route] = {}
        self.listeners: dict[tuple[str, int], Listener] = {}
        self._owned: dict[str, set[tuple[str, int]]] = {}       # service key -> its listener keys
        self._bind_failures: dict[str, int] = {}                # service key -> failed binds in a row
        self._ips: dict[str, str] = {}                           # service key -> cluster IP we hold for it
        self._lock = HostLock(lock_path) if lock_path else None
        self.active = asyncio.Event()
        self._took_over = False
        self._standby: Standby | None = None
        self._inherited: dict[tuple[str, int], socket.socket] = {}     # handed over, not serving yet
        self._adopted = asyncio.Event()                                # ... and then none is left
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.cluster_ip_problem: str | None = None
        self.addresses: HostAddresses | None = None
        if cluster_ips:
            self.cluster_ip_problem = HostAddresses.unavailable()
            if self.cluster_ip_problem is None:
                self.addresses = HostAddresses(iface or "mk8s-svc0")
        else:
            self.cluster_ip_problem = "cluster IPs are off (--no-cluster-ips)"
        self._netlink = ThreadPoolExecutor(1, thread_name_prefix="proxy-netlink") if self.addresses else None
        for inf in (self.services, self.endpoints):
            inf.add_event_handler(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)

    # ------------------------------------------------------------ handlers: only enqueue
    def _enqueue(self, obj) -> None:
        self.queue.add(key_of(obj))

    def _pod_cidrs(self) -> list[str]:
        out = []
        for node in self.nodes.list():
            out.extend(node.spec.podCIDRs or ([node.spec.podCIDR] if node.spec.podCIDR else []))
        return out

    # ------------------------------------------------------------ connection-time checks
    def usable(self, b: Backend) -> bool:
        """May a new connection go to `b` now? Its pod (when the address names one) must be in the
        cache, the same pod (uid), ready, not terminating and not finished; the address must be one
        the proxy may send to."""
        if b.pod:
            pod = self.pods.get(b.pod)
            if pod is None or (b.uid and pod.metadata.uid != b.uid):
                return False
            if pod.metadata.deletionTimestamp or pod.status.phase in ("Succeeded", "Failed") \
                    or not pod_ready(pod):
                return False
        return self.policy.allowed(b.ip, b.port)

    def _backend_failed(self, b: Backend, e: Exception) -> None:
        log.info("backend %s failed (%s); trying the next one", b, type(e).__name__ if not str(e) else e)

    # ------------------------------------------------------------ lifecycle
    async def start(self, cache_timeout: float = 60.0) -> None:
        """Start the informers and workers and return once the caches are in; serving starts when
        this proxy becomes the host's active one (at once without a lock file)."""
        await self.factory.start_all()
        if not await self.factory.wait_for_cache_sync(cache_timeout):
            raise TimeoutError("the proxy's caches did not sync")
        if self.cluster_ip_problem:
            log.warning("ClusterIPs will not be served: %s; NodePorts are (on %s)",
                        self.cluster_ip_problem, ", ".join(self.nodeport_addresses) or "no address")
        self._tasks.append(asyncio.create_task(run_workers(self.queue, self.sync_service, 1),
                                               name="proxy-workers"))
        self._tasks.append(asyncio.create_task(self._take_over(), name="proxy-lock"))

    async def _take_over(self) -> None:
        if self._lock is not None and not self._lock.try_acquire():
            log.info("another proxy of this cluster serves this host; standing by")
            await self._stand_by()
        self._took_over = True
        log.info("serving services on this host%s%s", f" (node {self.node_name})" if self.node_name else "",
                 f", with the {len(self._inherited)} listening socket(s) the leaving proxy handed over"
                 if self._standby is not None and self._standby.conn is not None else "")
        if self.addresses is not None:
            wanted = {s.spec.clusterIP for s in self.services.list() if self._serves_cluster_ip(s)}
            try:
                await self._netlink_call(self.addresses.sync, wanted)
            except Exception as e:
                log.error("cannot set up the cluster IP interface %s: %s", self.addresses.ifname, e)
        self.active.set()
        for svc in self.services.list():
            self.queue.add(key_of(svc))
        if self._standby is not None:
            await self._confirm_take_over()

    async def _stand_by(self) -> None:
        """Wait until the active proxy hands the host over (its lock and listening sockets) or just
        goes (the lock is free)."""
        try:
            self._standby = Standby(self._lock.path)
        except OSError as e:
            log.warning("cannot offer to take over without a gap (%s); waiting for the lock", e)
            await self._lock.acquire()
            return
        acquired = asyncio.create_task(self._lock.acquire())
        offered = asyncio.create_task(self._standby.receive())
        try:
            await asyncio.wait({acquired, offered}, return_when=asyncio.FIRST_COMPLETED)
            if offered.done() and offered.exception() is not None:
                log.warning("cannot be handed the host over (%s); waiting for the lock", offered.exception())
            elif offered.done():
                got = offered.result()
                self._inherited = dict(got)
                self._lock.adopt(got.lock_fd)
            await acquired
        finally:
            for t in (acquired, offered):
                t.cancel()
            await asyncio.gather(acquired, offered, return_exceptions=True)

    async def _confirm_take_over(self) -> None:
        """Once every handed-over socket serves here (or HANDOVER_TIMEOUT passed), tell the leaving
        proxy, which then stops accepting; sockets no service wants any more are closed."""
        if self._inherited:
            try:
                async with asyncio.timeout(HANDOVER_TIMEOUT):
                    await self._adopted.wait()
            except TimeoutError:
                log.warning("%d handed-over listening socket(s) no service wants; closing them",
                            len(self._inherited))
        for sock in self._inherited.values():
            sock.close()
        self._inherited.clear()
        await self._standby.say_serving()
        self._standby.close()
        self._standby = None

    async def run(self) -> None:
        """start(), then serve until stop()."""
        while True:
            try:
                await self.start()
                break
            except TimeoutError:
                log.warning("still waiting for the API server to list services and endpoints")
            if self._stop.is_set():
                break
        await self._stop.wait()
        await self.close()

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        """Stop: hand the host over to a standby proxy if there is one (it serves before this one stops
        accepting), stop accepting, let open connections finish, and remove the cluster IP interface
        unless a successor holds it now."""
        self.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._standby is not None:
            self._standby.close()
            self._standby = None
        for sock in self._inherited.values():
            sock.close()
        self._inherited.clear()
        handed_over = self.active.is_set() and await self._hand_over()
        listeners = list(self.listeners.values())
        for listener in listeners:
            listener.close()
        self.listeners.clear()
        self._owned.clear()
        await self._drain(listeners)
        # the interface is ours once we took over (even half-way: a cancelled take-over may have made
        # it already; the netlink thread runs the removal after whatever it was doing)
        if self.addresses is not None and self._took_over and not handed_over:
            try:
                await self._netlink_call(self.addresses.delete)
                await self._netlink_call(self.addresses.close)
            except Exception as e:
                log.warning("could not remove %s: %s", self.addresses.ifname, e)
        if self._netlink is not None:
            self._netlink.shutdown(wait=False)
        self.active.clear()
        self._took_over = False
        if self._lock is not None:
            self._lock.release()
        await self.factory.stop_all()

    async def _hand_over(self) -> bool:
        """Pass the lock and the listening sockets to a standby proxy and wait until it serves."""
        if self._lock is None or self._lock.fd is None:
            return False
        loop = asyncio.get_running_loop()
        sockets = {key: listener.socket for key, listener in self.listeners.items() if listener.socket}
        conn = await loop.run_in_executor(None, offer, self._lock.path, self._lock.fd, sockets)
        if conn is None:
            return False
        self._lock.release()            # the successor's descriptor holds it now
        if await loop.run_in_executor(None, wait_serving, conn, HANDOVER_TIMEOUT):
            log.info("handed %d listening socket(s) over to the standby proxy", len(sockets))
        else:
            log.warning("the standby proxy did not say it serves within %gs; stopping anyway", HANDOVER_TIMEOUT)
        return True

    async def _drain(self, listeners) -> None:
        """Let the connections the listeners accepted finish, for DRAIN_TIMEOUT at most."""
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await asyncio.gather(*(listener.wait_idle() for listener in listeners))
        except TimeoutError:
            log.warning("stopping with connections still open after %gs", DRAIN_TIMEOUT)

    async def _netlink_call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._netlink, fn, *args)

    # ------------------------------------------------------------ the reconcile
    def _serves_cluster_ip(self, svc) -> bool:
        return svc.spec.type != "ExternalName" and is_service_ip_set(svc) \
            and any((p.protocol or "TCP") == "TCP" for p in svc.spec.ports)

    async def sync_service(self, key: str) -> None:
        svc = self.services.get(key)
        eps = self.endpoints.get(key)
        routes: dict[tuple[str, str], list[Backend]] = {}
        wanted: dict[tuple[str, int], tuple[str, str]] = {}    # listener key -> route key
        if svc is not None and svc.spec.type != "ExternalName":
            for sp in svc.spec.ports:
                if (sp.protocol or "TCP") != "TCP":
                    continue        # UDP and SCTP are not proxied
                rkey = (key, sp.name)
                routes[rkey] = backends_for(eps, sp.name)
                if self.addresses is not None and is_service_ip_set(svc):
                    wanted[(svc.spec.clusterIP, sp.port)] = rkey
                if sp.nodePort and svc.spec.type in ("NodePort", "LoadBalancer"):
                    for addr in self.nodeport_addresses:
                        wanted[(addr, sp.nodePort)] = rkey

        # routes: updated in place, so listeners (and connections being dialled) see the change at once
        for rkey in [r for r in self.routes if r[0] == key and r not in routes]:
            del self.routes[rkey]
        for rkey, backends in routes.items():
            route = self.routes.get(rkey)
            if route is None:
                route = self.routes[rkey] = Route(f"{key}:{rkey[1]}" if rkey[1] else key)
            if route.set_backends(backends):
                log.info("%s: %d ready endpoint(s)%s", route.name, len(backends),
                         (": " + ", ".join(f"{b.ip}:{b.port}" for b in backends[:8])) if backends else "")
        if not self.active.is_set():
            return

        # cluster IP on the dummy interface, before anything listens on it
        want_ip = svc.spec.clusterIP if svc is not None and self.addresses is not None \
            and self._serves_cluster_ip(svc) else ""
        held = self._ips.get(key, "")
        if held and held != want_ip:
            await self._netlink_call(self.addresses.remove, held)
            del self._ips[key]
        if want_ip and held != want_ip:
            await self._netlink_call(self.addresses.add, want_ip)
            self._ips[key] = want_ip

        # listeners
        owned = self._owned.setdefault(key, set())
        for lkey in list(owned):
            listener = self.listeners.get(lkey)
            if lkey not in wanted or listener is None or listener.route is not self.routes.get(wanted[lkey]):
                if listener is not None:
                    listener.close()
                    del self.listeners[lkey]
                    log.info("%s: stopped listening on %s:%d", key, *lkey)
                owned.discard(lkey)
        failed = False
        for lkey, rkey in wanted.items():
            if lkey in owned:
                continue
            listener = Listener(lkey[0], lkey[1], self.routes[rkey], self.usable, self._backend_failed,
                                freebind=lkey[0] not in self.nodeport_addresses)
            try:
                await listener.start(self._inherited.pop(lkey, None))
                if not self._inherited:
                    self._adopted.set()
            except OSError as e:
                n = self._bind_failures.get(key, 0)
                if n % 10 == 0:
                    log.warning("%s: cannot listen on %s:%d: %s; retrying", key, lkey[0], lkey[1],
                                describe_bind_error(e))
                failed = True
                continue
            self.listeners[lkey] = listener
            owned.add(lkey)
            log.info("%s: listening on %s:%d", key, *lkey)
        if not owned:
            self._owned.pop(key, None)
        if failed:
            n = self._bind_failures[key] = self._bind_failures.get(key, 0) + 1
            self.queue.add_after(key, min(BIND_RETRY_BASE * 2 ** (n - 1), BIND_RETRY_CAP))
        else:
            self._bind_failures.pop(key, None)
