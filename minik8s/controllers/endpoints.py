"""The endpoints controller (upstream pkg/controller/endpoint): for every Service with a selector, an
Endpoints object of the same name listing the pods the selector matches.

A pod is listed when it has an IP, is not terminal (Succeeded/Failed) and, unless the service has
`publishNotReadyAddresses`, is not terminating (deletionTimestamp set). Listed pods go under
`addresses` when their Ready condition is True (or the service publishes not-ready addresses) and
under `notReadyAddresses` otherwise. Each address names its pod (`targetRef`), its node and, when
the pod's `subdomain` is the service's name, its `hostname`. Each service port becomes an
EndpointPort with the service port's name and protocol and the pod's port: the number itself for a
numeric `targetPort`, or the `containerPort` of the container port with that name and protocol for a
named one (a pod without it is left out of that port). Addresses that offer
the same ports are packed into one subset, everything sorted, so an unchanged cluster gives a
byte-identical object and the controller writes nothing.

Services without a selector are left alone: their Endpoints belong to whoever wrote them. When a
service goes away so does its Endpoints object; at start-up the controller also looks at every
Endpoints object, so those left over from services deleted while it was down are removed.

Level-triggered: informer handlers only enqueue service keys (`namespace/name`), and
`sync_endpoints(key)` computes the whole object from the caches and writes it only when it differs
from what the cache holds. A write that loses a race (Conflict, AlreadyExists) fails the sync and the
key is retried with backoff, by which time the cache has caught up."""
from __future__ import annotations

import ipaddress
import logging

from minik8s.api.errors import AlreadyExists, Conflict, NotFound
from minik8s.api.pb import core_pb2
from minik8s.client.events import WARNING
from minik8s.client.informer import LABEL_INDEX, copy, key_of

from minik8s.controllers.base import Controller, split_key

log = logging.getLogger("minik8s.controllers.endpoints")

HEADLESS_LABEL = "service.kubernetes.io/headless"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
MAX_ADDRESSES = 1000          # upstream maxCapacity: addresses beyond it are truncated
COMPONENT = "endpoint-controller"


# ---------------------------------------------------------------- pods
def pod_ip(pod) -> str:
    if pod.status.podIP:
        return pod.status.podIP
    return pod.status.podIPs[0].ip if pod.status.podIPs else ""


def pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def pod_terminal(pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def should_pod_be_in_endpoints(pod, include_terminating: bool) -> bool:
    """upstream endpointsliceutil.ShouldPodBeInEndpoints."""
    if pod_terminal(pod) or not pod_ip(pod):
        return False
    if not include_terminating and pod.metadata.deletionTimestamp:
        return False
    return True


def selector_matches(selector, labels) -> bool:
    """A service selector (a map: every pair must be among the labels; an empty one matches none)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def find_port(pod, svc_port) -> int | None:
    """upstream podutil.FindPort: the pod port a service port's targetPort names."""
    tp = svc_port.targetPort
    kind = tp.WhichOneof("kind")
    protocol = svc_port.protocol or "TCP"
    if kind == "number_value" and tp.number_value:
        return int(tp.number_value)
    if kind == "string_value" and tp.string_value:
        name = tp.string_value
        containers = list(pod.spec.containers) + [c for c in pod.spec.initContainers
                                                  if c.HasField("restartPolicy") and c.restartPolicy == "Always"]
        for c in containers:
            for p in c.ports:
                if p.name == name and (p.protocol or "TCP") == protocol:
                    return p.containerPort
        return None
    return svc_port.port or None        # targetPort unset (not defaulted): the service port itself


def _usable_ip(ip: str) -> bool:
    """Whether the API accepts `ip` in an Endpoints object (a host-network pod of the process runtime
    reports 127.0.0.1, which it does not)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified or (addr.is_link_local and not addr.is_multicast))


def _pod_digest(pod) -> tuple:
    """What of a pod the Endpoints object depends on: a pod update that leaves this alone is ignored."""
    ports = tuple((p.name, p.containerPort, p.protocol) for c in pod.spec.containers for p in c.ports)
    return (pod.metadata.uid, tuple(sorted(pod.metadata.labels.items())), pod_ip(pod), pod_ready(pod),
            bool(pod.metadata.deletionTimestamp), pod.status.phase, pod.spec.nodeName, pod.spec.hostname,
            pod.spec.subdomain, ports)


# ---------------------------------------------------------------- building the object
def endpoint_address(pod, svc) -> core_pb2.EndpointAddress:
    addr = core_pb2.EndpointAddress(ip=pod_ip(pod))
    if pod.spec.nodeName:
        addr.nodeName = pod.spec.nodeName
    meta = pod.metadata
    addr.targetRef.kind = "Pod"
    addr.targetRef.namespace = meta.namespace
    addr.targetRef.name = meta.name
    addr.targetRef.uid = meta.uid
    if pod.spec.hostname and pod.spec.subdomain == svc.metadata.name and meta.namespace == svc.metadata.namespace:
        addr.hostname = pod.spec.hostname
    return addr


def _addr_sort_key(addr) -> tuple:
    try:
        ip = (0, int(ipaddress.ip_address(addr.ip)))
    except ValueError:
        ip = (1, addr.ip)
    return ip, addr.targetRef.uid


def _port_key(p) -> tuple:
    return (p.name, p.port, p.protocol, p.appProtocol if p.HasField("appProtocol") else "")


def repack(entries: list[tuple[core_pb2.EndpointAddress, bool, core_pb2.EndpointPort | None]]
           ) -> list[core_pb2.EndpointSubset]:
    """upstream RepackSubsets: (address, ready, port) triples -> subsets, one per distinct set of
    ports, addresses sorted by IP, ports by name, subsets by their ports. A `None` port stands for an
    address with no ports (a headless service without ports)."""
    addrs: dict[tuple, tuple[core_pb2.EndpointAddress, bool]] = {}
    ports_of: dict[tuple, dict[tuple, core_pb2.EndpointPort | None]] = {}
    for addr, ready, port in entries:
        akey = (addr.SerializeToString(deterministic=True), ready)
        addrs[akey] = (addr, ready)
        pk = _port_key(port) if port is not None else None
        ports_of.setdefault(akey, {})[pk] = port
    groups: dict[tuple, list[tuple]] = {}
    for akey, ports in ports_of.items():
        groups.setdefault(tuple(sorted(ports, key=lambda k: (k is not None, k or ()))), []).append(akey)
    subsets = []
    for pkeys in sorted(groups, key=lambda ks: [k or () for k in ks]):
        subset = core_pb2.EndpointSubset()
        members = [addrs[a] for a in groups[pkeys]]
        for addr, ready in sorted(members, key=lambda m: _addr_sort_key(m[0])):
            (subset.addresses if ready else subset.notReadyAddresses).add().CopyFrom(addr)
        sample = ports_of[groups[pkeys][0]]
        for pk in pkeys:
            if pk is not None:
                subset.ports.add().CopyFrom(sample[pk])
        subsets.append(subset)
    return subsets


def truncate(subsets: list[core_pb2.EndpointSubset], limit: int = MAX_ADDRESSES) -> bool:
    """Keep at most `limit` addresses, as upstream's truncateEndpoints: ready addresses first (when
    they alone exceed the limit, not-ready ones all go), each subset, smallest first, keeping at most
    an even share of what is left. Subsets keep their order. True when anything was dropped."""
    ready = sum(len(s.addresses) for s in subsets)
    not_ready = sum(len(s.notReadyAddresses) for s in subsets)
    if ready + not_ready <= limit:
        return False
    cut_ready = ready > limit
    left = limit if cut_ready else limit - ready
    field = "addresses" if cut_ready else "notReadyAddresses"
    order = sorted(subsets, key=lambda s: len(getattr(s, field)))     # the smallest first: what they
    for i, s in enumerate(order):                                      # leave goes to the bigger ones
        items = getattr(s, field)
        keep = min(len(items), -(-left // (len(order) - i)))           # at most ceil(left / subsets left)
        del items[keep:]
        left -= keep
        if cut_ready:
            del s.notReadyAddresses[:]
    subsets[:] = [s for s in subsets if s.addresses or s.notReadyAddresses]
    return True


# ---------------------------------------------------------------- the controller
class EndpointsController(Controller):
    name = "endpoints"
    default_workers = 2

    def __init__(self, ctx):
        super().__init__(ctx)
        f = ctx.informers
        self.services = f.informer("Service")
        self.pods = f.informer("Pod")
        self.endpoints = f.informer("Endpoints")
        self.recorder = ctx.recorder(COMPONENT)
        self._skipped_ips: set[tuple[str, str]] = set()     # (pod key, ip) already logged once
        self.services.add_event_handler(self._enqueue_obj, lambda old, new: self._enqueue_obj(new),
                                        self._enqueue_obj)
        self.pods.add_event_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.endpoints.add_event_handler(None, lambda old, new: self._on_endpoints_change(new),
                                         self._on_endpoints_change)

    # ------------------------------------------------------------ handlers: only enqueue
    def _enqueue_obj(self, obj) -> None:
        self.enqueue(key_of(obj))

    def _services_of(self, pod) -> list[str]:
        ns = pod.metadata.namespace
        return [key_of(s) for s in self.services.list_namespace(ns)
                if selector_matches(s.spec.selector, pod.metadata.labels)]

    def _on_pod_add(self, pod) -> None:
        for key in self._services_of(pod):
            self.enqueue(key)

    def _on_pod_update(self, old, new) -> None:
        if old.metadata.resourceVersion == new.metadata.resourceVersion:
            return      # a resync: nothing moved
        if _pod_digest(old) == _pod_digest(new):
            return
        keys = set(self._services_of(new))
        if old.metadata.labels != new.metadata.labels:
            keys.update(self._services_of(old))
        for key in keys:
            self.enqueue(key)

    def _on_pod_delete(self, pod) -> None:
        self._on_pod_add(pod)

    def _on_endpoints_change(self, ep) -> None:
        # An Endpoints object of one of our services changed or went away behind our back: put it back.
        key = key_of(ep)
        svc = self.services.get(key)
        if svc is not None and svc.spec.selector:
            self.enqueue(key)

    async def run(self) -> None:
        # upstream checkLeftoverEndpoints: Endpoints whose service went away while we were not running
        for ep in self.endpoints.list():
            if self.services.get(key_of(ep)) is None \
                    and "control-plane.alpha.kubernetes.io/leader" not in ep.metadata.annotations:
                self.enqueue(key_of(ep))
        await super().run()

    async def sync(self, key) -> None:
        await self.sync_endpoints(key)

    # ------------------------------------------------------------ the reconcile
    def _pods_for(self, svc) -> list:
        selector = svc.spec.selector
        first_key = min(selector)
        ns = svc.metadata.namespace
        return [p for p in self.pods.by_index(LABEL_INDEX, f"{first_key}={selector[first_key]}")
                if p.metadata.namespace == ns and selector_matches(selector, p.metadata.labels)]

    def desired_subsets(self, svc) -> list[core_pb2.EndpointSubset]:
        publish_not_ready = svc.spec.publishNotReadyAddresses
        headless = svc.spec.clusterIP == "None"
        entries = []
        for pod in self._pods_for(svc):
            if not should_pod_be_in_endpoints(pod, publish_not_ready):
                continue
            ip = pod_ip(pod)
            if not _usable_ip(ip):
                mark = (key_of(pod), ip)
                if mark not in self._skipped_ips:
                    if len(self._skipped_ips) > 10_000:
                        self._skipped_ips.clear()
                    self._skipped_ips.add(mark)
                    log.warning("service %s: pod %s has IP %s, which an Endpoints object cannot hold; "
                                "left out", key_of(svc), key_of(pod), ip)
                continue
            addr = endpoint_address(pod, svc)
            ready = publish_not_ready or pod_ready(pod)
            if not svc.spec.ports:
                if headless:
                    entries.append((addr, ready, None))
                continue
            for sp in svc.spec.ports:
                port = find_port(pod, sp)
                if port is None:
                    log.debug("service %s: pod %s has no container port named %r (%s); left out of "
                              "port %r", key_of(svc), key_of(pod), sp.targetPort.string_value,
                              sp.protocol or "TCP", sp.name or str(sp.port))
                    continue
                ep = core_pb2.EndpointPort(name=sp.name, port=port, protocol=sp.protocol or "TCP")
                if sp.HasField("appProtocol"):
                    ep.appProtocol = sp.appProtocol
                entries.append((addr, ready, ep))
        return repack(entries)

    async def sync_endpoints(self, key: str) -> None:
        namespace, name = split_key(key)
        svc = self.services.get(key)
        if svc is None:
            # the service is gone: so is its Endpoints object (upstream deletes without looking)
            try:
                await self.client.delete("Endpoints", name, namespace)
            except NotFound:
                pass
            return
        if not svc.spec.selector or svc.spec.type == "ExternalName":
            return      # not ours: the user keeps this service's Endpoints
        svc = copy(svc)
        subsets = self.desired_subsets(svc)
        truncated = truncate(subsets)

        current = self.endpoints.get(key)
        labels = dict(svc.metadata.labels)
        if svc.spec.clusterIP == "None":
            labels[HEADLESS_LABEL] = ""
        else:
            labels.pop(HEADLESS_LABEL, None)
        if current is not None:
            annotations = dict(current.metadata.annotations)
            if truncated:
                annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
            else:
                annotations.pop(OVER_CAPACITY_ANNOTATION, None)
            if list(current.subsets) == subsets and dict(current.metadata.labels) == labels \
                    and dict(current.metadata.annotations) == annotations:
                return
            ep = copy(current)
            del ep.subsets[:]
            ep.subsets.extend(subsets)
            ep.metadata.labels.clear()
            ep.metadata.labels.update(labels)
            ep.metadata.annotations.clear()
            ep.metadata.annotations.update(annotations)
            try:
                await self.client.update(ep)
            except (Conflict, NotFound):
                raise       # the cache is behind: retry once it has caught up
            except Exception as e:
                self.recorder.eventf(svc, WARNING, "FailedToUpdateEndpoint",
                                     "Failed to update endpoint %s: %s", key, e)
                raise
            log.debug("updated endpoints %s", key)
            return
        ep = core_pb2.Endpoints(apiVersion="v1", kind="Endpoints")
        ep.metadata.name, ep.metadata.namespace = name, namespace
        ep.metadata.labels.update(labels)
        if truncated:
            ep.metadata.annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        ep.subsets.extend(subsets)
        try:
            await self.client.create(ep)
        except AlreadyExists:
            raise
        except Exception as e:
            self.recorder.eventf(svc, WARNING, "FailedToCreateEndpoint",
                                 "Failed to create endpoint for service %s: %s", key, e)
            raise
        log.debug("created endpoints %s", key)
