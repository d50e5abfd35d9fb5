"""The `kubernetes` Service in the `default` namespace, as every cluster has (upstream's controlplane
kubernetesservice controller and master endpoints reconciler): ClusterIP the first address of the
service range, port `https` 443 to the REST API's port, labels `component=apiserver` and
`provider=kubernetes`; its Endpoints name this API server's address and REST port. The server writes
both at start and every 10 seconds puts back whatever differs, so a deleted or edited object
returns. In-cluster clients find the API through it (`KUBERNETES_SERVICE_HOST`/`_PORT`, which the
kubelet derives from this Service), and the service proxy forwards to its one endpoint, the one
address outside the pod network it may reach.

The address is the one the server listens on; a server on loopback (a cluster on one machine) names
127.0.0.1, which the Endpoints validation admits for this one object only."""
from __future__ import annotations

import asyncio
import ipaddress
import logging

from minik8s.api import codec, kinds
from minik8s.api.errors import ApiError, NotFound
from minik8s.api.pb import core_pb2

log = logging.getLogger("apiserver")

NAME, NAMESPACE = "kubernetes", "default"
PORT_NAME, PORT = "https", 443
INTERVAL = 10.0
LABELS = {"component": "apiserver", "provider": "kubernetes"}


def service_ip(cidr: str) -> str:
    """The first address of the service range (10.96.0.1 for 10.96.0.0/12)."""
    return str(ipaddress.ip_network(cidr, strict=False)[1])


def advertise_address(address: str) -> str:
    """The address clients of the Endpoints reach this server at: the listen address, loopback for
    `localhost` and for a wildcard listen address."""
    if address in ("", "localhost", "0.0.0.0", "::"):
        return "127.0.0.1"
    return address


def _service(cidr: str, rest_port: int):
    return codec.from_dict(core_pb2.Service, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {"type": "ClusterIP", "clusterIP": service_ip(cidr), "sessionAffinity": "None",
                 "ports": [{"name": PORT_NAME, "port": PORT, "protocol": "TCP", "targetPort": rest_port}]}})


def _endpoints(address: str, rest_port: int):
    return codec.from_dict(core_pb2.Endpoints, {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "subsets": [{"addresses": [{"ip": address}],
                     "ports": [{"name": PORT_NAME, "port": rest_port, "protocol": "TCP"}]}]})


async def reconcile(registry, address: str, rest_port: int, cidr: str) -> None:
    """Make the Service and its Endpoints what they should be, writing only what differs."""
    svc = _service(cidr, rest_port)
    try:
        current = registry.get(kinds.SERVICE, NAMESPACE, NAME).decode()
    except NotFound:
        await registry.create(kinds.SERVICE, svc)
    else:
        if list(current.spec.ports) != list(svc.spec.ports) or dict(current.metadata.labels) != LABELS:
            current.spec.ClearField("ports")
            current.spec.ports.extend(svc.spec.ports)
            current.metadata.labels.clear()
            current.metadata.labels.update(LABELS)
            await registry.update(kinds.SERVICE, current)
    ep = _endpoints(advertise_address(address), rest_port)
    try:
        current = registry.get(kinds.ENDPOINTS, NAMESPACE, NAME).decode()
    except NotFound:
        await registry.create(kinds.ENDPOINTS, ep)
        return
    if list(current.subsets) != list(ep.subsets):
        current.ClearField("subsets")
        current.subsets.extend(ep.subsets)
        await registry.update(kinds.ENDPOINTS, current)


async def run(registry, address: str, rest_port: int, cidr: str) -> None:
    """Reconcile now and every INTERVAL seconds until cancelled."""
    while True:
        try:
            await reconcile(registry, address, rest_port, cidr)
        except ApiError as e:
            log.warning("cannot reconcile the kubernetes Service: %s", e)
        await registry.clock.sleep(INTERVAL)


def start(registry, address: str, rest_port: int, cidr: str) -> asyncio.Task:
    return asyncio.create_task(run(registry, address, rest_port, cidr), name="kubernetes-service")
