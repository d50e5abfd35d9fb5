"""The kubelet: one node's agent. It talks to nothing but the API server and its container runtime.

    start   register the Node (node_status), watch the pods bound to this node (an informer with the field
            selector spec.nodeName=NODE), take back GPU assignments from the runtime, then run:
    loops   the Lease heartbeat and Node status; one worker per pod (pod_worker, sync); the PLEG-style
            relist that wakes a pod's worker when one of its containers changes; the housekeeping that
            removes what belongs to pods the API no longer has; node-pressure eviction (eviction);
            metrics (stats); the node tunnel for logs and exec (tunnel); shipping container logs to the
            API server's archive (logshipper).

Time for backoff, probes, heartbeats and metrics comes from the injected Clock, so tests can drive it."""
from __future__ import annotations

import asyncio
import logging
import os

from minik8s.api.clock import Clock
from minik8s.api.quantity import bytes_value
from minik8s.client.events import EventRecorder
from minik8s.client.informer import NODE_NAME_INDEX, Informer

from kubelet import gpu as gpumod
from kubelet.backoff import Backoff
from kubelet.config import NodeConfig, Settings
from kubelet.dns import PodDNS
from kubelet.eviction import EvictionManager, NodeObserver, parse_thresholds
from kubelet.logshipper import LogShipper
from kubelet.node_status import NodeStatusManager, host_ip
from kubelet.paths import LABEL_CLUSTER, cluster_id, node_root
from kubelet.pod_worker import PodWorkers
from kubelet.probes import ProbeManager
from kubelet.runtime.base import LABEL_POD_UID
from kubelet.stats import MetricsPublisher
from kubelet.status import TERMINAL
from kubelet.status_manager import StatusWriter
from kubelet.sync import PodSyncer, container_ref
from kubelet.tunnel import TunnelServer

log = logging.getLogger("kubelet")

HOUSEKEEPING_EVERY = 10        # relists between two orphan sweeps
UID_INDEX = "metadata.uid"


def add_uid_index(informer: Informer) -> None:
    informer.add_indexer(UID_INDEX, lambda pod: pod.metadata.uid)


class Kubelet:
    def __init__(self, client, runtime, node: NodeConfig, home: str, settings: Settings | None = None,
                 clock: Clock | None = None, gpus: list | None = None, address: str | None = None,
                 informer: Informer | None = None, services: Informer | None = None, hosted: bool = False):
        """`informer`, `services`: a pod and a service informer shared by several kubelets of one process
        (fakenodes), started by their owner, who routes each pod to its node's kubelet (`on_pod`,
        `on_pod_deleted`). By default the kubelet watches its own pods and every service. `hosted`: that
        owner also drives the relist and log shipping (`relist_turn`, `logshipper.ship_once`) of the nodes
        that are not `quiet`, so thousands of idle nodes do not each wake twice a second."""
        self.client = client
        self.runtime = runtime
        self.node_cfg = node
        self.node_name = node.name
        self.home = home
        self.settings = settings or Settings()
        self.clock = clock or Clock()
        self.root = node_root(home, node.name)
        self.cluster_id = cluster_id(home)
        # the node's state (pod specs, container env, logs, volumes) is its owner's alone
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.host_ip = address or node.address or host_ip()
        devices = gpus if gpus is not None else gpumod.discover(node.name, node.gpus)
        self.gpus = gpumod.GPUAllocator(devices)
        self.recorder = EventRecorder(client, "kubelet", host=node.name, clock=self.clock)
        self.backoff = Backoff(self.settings.backoff_base, self.settings.backoff_cap, self.clock)
        self.image_backoff = Backoff(self.settings.backoff_base, self.settings.backoff_cap, self.clock)
        self.status_writer = StatusWriter(client)
        self.node_status = NodeStatusManager(client, node, runtime, devices, self.settings, self.clock,
                                             self.host_ip, self.recorder, pressure=lambda: self.eviction.pressure())
        self._own_informer = informer is None
        self.informer = informer or Informer(client, "Pod", field_selector=f"spec.nodeName={node.name}",
                                             clock=self.clock)
        if self._own_informer:
            add_uid_index(self.informer)
        self.services = services or Informer(client, "Service", clock=self.clock)   # for service env vars
        self.metrics = MetricsPublisher(client, runtime, self.clock, node.name, self.settings.metrics_period,
                                        self.pod_by_uid)
        # a probe result wakes the pod's worker (the workers exist once the syncer, which needs the
        # probes, does)
        self.probes = ProbeManager(runtime, self.clock, self.recorder, lambda uid: self.workers.trigger(uid),
                                   container_ref)
        self.syncer = PodSyncer(
            runtime=runtime, client=client, status_writer=self.status_writer, recorder=self.recorder,
            metrics=self.metrics, clock=self.clock, probes=self.probes, gpus=self.gpus, backoff=self.backoff,
            image_backoff=self.image_backoff, services=self.services, allocatable=self.node_status.capacity,
            network_error=self.node_status.network_error, pressure_admit=lambda pod: self.eviction.admit(pod),
            node_name=self.node_name, cluster_id=self.cluster_id, host_ip=self.host_ip, home=home, root=self.root,
            pod_dns=PodDNS(self.settings.cluster_dns, self.settings.cluster_domain, self.settings.resolv_conf))
        self.workers = PodWorkers(self.syncer, self.metrics, self.clock, self.settings.resync_period)
        observer = NodeObserver(runtime, lambda: bytes_value(self.node_status.capacity()["memory"]), self.root)
        self.eviction = EvictionManager(
            thresholds=parse_thresholds(self.settings.eviction_hard),
            transition_period=self.settings.eviction_pressure_transition_period,
            monitoring_period=self.settings.eviction_monitoring_period, observe=observer.observe,
            active_pods=self.evictable_pods, evict=self.workers.evict,
            conditions_changed=lambda: self.node_status.update_status(force=True), recorder=self.recorder,
            node_name=self.node_name, clock=self.clock)
        self.tunnel = TunnelServer(client, runtime, self.pod_by_name)
        self.logshipper = LogShipper(client.append_logs, runtime.list_containers,
                                     os.path.join(self.root, "logshipper"), self.clock)
        self.syncer.flush_logs = self.logshipper.ship_once
        self._tasks: list[asyncio.Task] = []
        self._snapshot: dict[str, dict[str, str]] = {}
        self.hosted = hosted

    # ------------------------------------------------------------------ lookups
    def pod_by_uid(self, uid: str):
        pods = self.informer.by_index(UID_INDEX, uid)
        return pods[0] if pods else None

    def my_pods(self) -> list:
        return self.informer.by_index(NODE_NAME_INDEX, self.node_name)

    def evictable_pods(self) -> list:
        """The node's pods still running or about to, not yet evicted."""
        out = []
        for pod in self.my_pods():
            st = self.workers.state(pod.metadata.uid)
            if pod.status.phase not in TERMINAL and st is not None and st.evicted is None and not st.terminal:
                out.append(pod)
        return out

    def pod_by_name(self, namespace: str, name: str):
        return self.informer.get_by(namespace or "default", name)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, wait_synced: float = 60.0) -> None:
        await self.node_status.register()
        await self._restore_devices()
        if self._own_informer:
            await self.services.start()
            self.informer.add_event_handler(on_add=self.on_pod, on_update=lambda old, new: self.on_pod(new),
                                            on_delete=self.on_pod_deleted)
            await self.informer.start()
        # as upstream, no pod starts before the services are known: their env vars must be complete
        if not await self.services.wait_synced(wait_synced) or not await self.informer.wait_synced(wait_synced):
            raise TimeoutError(f"node {self.node_name}: the pod and service lists did not arrive")
        spawn = asyncio.get_running_loop().create_task
        self._tasks = [
            spawn(self.node_status.lease_loop(), name=f"{self.node_name}-lease"),
            spawn(self.node_status.status_loop(), name=f"{self.node_name}-status"),
            spawn(self.metrics.loop(), name=f"{self.node_name}-metrics"),
            spawn(self.eviction.loop(), name=f"{self.node_name}-eviction"),
            spawn(self.tunnel.run(), name=f"{self.node_name}-tunnel"),
        ]
        if not self.hosted:
            self._tasks += [spawn(self._relist_loop(), name=f"{self.node_name}-pleg"),
                            spawn(self.logshipper.run(), name=f"{self.node_name}-logshipper")]
        log.info("kubelet %s started (runtime %s)", self.node_name, self.runtime.name)

    async def stop(self) -> None:
        """Stop the agent; the pods' containers keep running (a restarted kubelet adopts them)."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.workers.stop()
        await self.probes.stop()
        if self._own_informer:
            await self.informer.stop()
            await self.services.stop()
        try:
            await asyncio.wait_for(self.recorder.flush(), 2.0)
        except asyncio.TimeoutError:
            pass
        await self.recorder.stop()
        close = getattr(self.runtime, "close", None)      # the docker runtime's threads and log followers
        if close is not None:
            await close()

    async def run_forever(self) -> None:
        await self.start()
        await asyncio.Event().wait()

    # ------------------------------------------------------------------ informer handlers
    def on_pod(self, pod) -> None:
        self.workers.update(pod)

    def on_pod_deleted(self, pod) -> None:
        self.workers.remove(pod.metadata.uid)

    # ------------------------------------------------------------------ devices
    async def _restore_devices(self) -> None:
        if not self.gpus.devices:
            return
        for c in await self.runtime.list_containers():
            label = c.labels.get(gpumod.LABEL_DEVICES)
            uid = c.labels.get(LABEL_POD_UID)
            if label and uid and c.state in ("running", "created"):
                self.gpus.restore(uid, c.name, label)

    # ------------------------------------------------------------------ relist and housekeeping
    async def relist(self) -> set[str]:
        """Compare the runtime's containers with the last look; wake the workers of changed pods."""
        snapshot: dict[str, dict[str, str]] = {}
        for c in await self.runtime.list_containers():
            uid = c.labels.get(LABEL_POD_UID)
            if uid:
                snapshot.setdefault(uid, {})[c.id] = c.state
        changed = {uid for uid in set(snapshot) | set(self._snapshot)
                   if snapshot.get(uid) != self._snapshot.get(uid)}
        self._snapshot = snapshot
        for uid in changed:
            self.workers.trigger(uid)
        return changed

    async def housekeeping(self) -> None:
        """Remove this cluster's sandboxes and containers of pods that are neither in the API nor being
        worked on."""
        known = {p.metadata.uid for p in self.my_pods()} | set(self.workers.workers)
        mine = self.cluster_id
        owners = {s.pod_uid for s in await self.runtime.list_sandboxes() if s.labels.get(LABEL_CLUSTER) == mine}
        owners |= {c.labels.get(LABEL_POD_UID) for c in await self.runtime.list_containers()
                   if c.labels.get(LABEL_CLUSTER) == mine}
        for uid in owners - known - {None, ""}:
            log.info("removing the leftovers of pod %s, which is gone", uid)
            await self.syncer.cleanup(uid)

    def quiet(self) -> bool:
        """Nothing for a relist or the log shipper to look at: the runtime holds nothing (for a runtime
        that can tell at no cost, the fake one), held nothing at the last relist, and no log is left
        to ship."""
        holds_nothing = getattr(self.runtime, "holds_nothing", None)
        return holds_nothing is not None and holds_nothing() and not self._snapshot and self.logshipper.idle()

    async def relist_turn(self, n: int) -> None:
        """The relist loop's `n`th turn: a relist, and the orphan sweep every HOUSEKEEPING_EVERY turns."""
        try:
            await self.relist()
            if n % HOUSEKEEPING_EVERY == 0:
                await self.housekeeping()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("relist failed: %s", e)

    async def _relist_loop(self) -> None:
        n = 0
        while True:
            await self.relist_turn(n)
            n += 1
            await asyncio.sleep(self.settings.pleg_period)
