"""kubectl's generators: the objects `create deployment`, `create service`, `create job --image` and
`expose` make from their flags, shaped as kubectl makes them (labels `app: NAME`, a container named
after its image, a port named `PORT-TARGET`), as manifests for the API's codec.

Only the shape is decided here; the server validates names, ports and images and names the field."""
from __future__ import annotations

import re

from minik8s.cli.common import CliError


_RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"     # kubectl's utilrand: no vowels, no look-alikes


def container_name(image: str) -> str:
    """kubectl's container name for an image: its last path part without tag or digest; a name with
    `_` or `.` gets them as `-` and a random 5-character suffix, so that it stays unique."""
    import random
    name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    if "_" in name or "." in name:
        suffix = "".join(random.choice(_RANDOM_ALPHABET) for _ in range(5))
        name = f"{name.replace('_', '-').replace('.', '-')}-{suffix}"
    return name


def deployment(name: str, images: list[str], replicas: int, port: int | None, command: list[str]) -> dict:
    labels = {"app": name}
    containers = []
    for image in images:
        c: dict = {"name": container_name(image), "image": image}
        containers.append(c)
    if command:
        containers[0]["command"] = list(command)
    if port is not None and port >= 0:
        containers[0]["ports"] = [{"containerPort": port}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}}


def job(name: str, image: str, command: list[str]) -> dict:
    c: dict = {"name": name, "image": image}
    if command:
        c["command"] = list(command)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"containers": [c], "restartPolicy": "Never"}}}}


def _port_number(text: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise CliError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    return int(text)


def tcp_ports(specs: list[str]) -> list[dict]:
    """`--tcp=PORT[:TARGET]` as kubectl's `create service` reads it: a port named `PORT-TARGET`, or
    `PORT` when the target is the same port."""
    if not specs:
        raise CliError("at least one tcp port specifier must be provided")
    out = []
    for spec in (s for arg in specs for s in arg.split(",")):
        port, _, target = spec.partition(":")
        p = _port_number(port)
        if target:
            t: int | str = int(target) if target.isdigit() else target
            named = f"{port}-{target}"
        else:
            t, named = p, port
        out.append({"name": named, "port": p, "protocol": "TCP", "targetPort": t})
    return out


SERVICE_TYPES = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer",
                 "externalname": "ExternalName"}


def service(name: str, type_: str, ports: list[dict], selector: dict | None = None,
            labels: dict | None = None, node_port: int = 0, cluster_ip: str = "") -> dict:
    labels = {"app": name} if labels is None else labels
    selector = {"app": name} if selector is None else selector
    if node_port:
        for p in ports:
            p["nodePort"] = node_port
    spec: dict = {"ports": ports, "selector": selector, "type": type_}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    meta: dict = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
