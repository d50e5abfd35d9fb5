"""Service discovery through environment variables, as upstream's kubelet gives every container
(pkg/kubelet/kubelet_pods.go getServiceEnvVarMap and pkg/kubelet/envvars): for each Service with a
cluster IP, in the pod's namespace, existing when the container starts:

    WEB_SERVICE_HOST=10.96.0.12          the cluster IP
    WEB_SERVICE_PORT=80                  the first port
    WEB_SERVICE_PORT_HTTP=80             each named port (`http` here)
    WEB_PORT=tcp://10.96.0.12:80         Docker-link style, first port
    WEB_PORT_80_TCP=tcp://10.96.0.12:80  ... and for every port:
    WEB_PORT_80_TCP_PROTO=tcp
    WEB_PORT_80_TCP_PORT=80
    WEB_PORT_80_TCP_ADDR=10.96.0.12

The service name is upper-cased with `-` turned into `_`. Headless services (clusterIP None) and
services without a cluster IP (ExternalName) give nothing. `enableServiceLinks: false` on the pod
drops every service of its namespace, but the API's own services (`kubernetes` in `default`) are
always given, as upstream does; a service of the pod's namespace with the same name wins over it.

A pure function of the pod and the services the kubelet's informer holds: the kubelet puts these
variables before the container's own `env` (which may override them, or refer to them with
`$(WEB_SERVICE_HOST)`). Later services do not change a running container's environment."""
from __future__ import annotations

from typing import Iterable

MASTER_SERVICE_NAMESPACE = "default"
MASTER_SERVICES = frozenset({"kubernetes"})


def env_name(service_name: str) -> str:
    """upstream makeEnvVariableName: `my-web` -> `MY_WEB`."""
    return service_name.replace("-", "_").upper()


def is_service_ip_set(svc) -> bool:
    ip = svc.spec.clusterIP
    return ip not in ("", "None")


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _link_variables(svc) -> list[tuple[str, str]]:
    """Docker's link variables, one set per port; the first port also as `{SVC}_PORT`."""
    prefix = env_name(svc.metadata.name)
    ip = svc.spec.clusterIP
    out: list[tuple[str, str]] = []
    for i, sp in enumerate(svc.spec.ports):
        protocol = sp.protocol or "TCP"
        url = f"{protocol.lower()}://{_join_host_port(ip, sp.port)}"
        if i == 0:
            out.append((f"{prefix}_PORT", url))
        port_prefix = f"{prefix}_PORT_{sp.port}_{protocol.upper()}"
        out += [(port_prefix, url),
                (f"{port_prefix}_PROTO", protocol.lower()),
                (f"{port_prefix}_PORT", str(sp.port)),
                (f"{port_prefix}_ADDR", ip)]
    return out


def variables_for(svc) -> list[tuple[str, str]]:
    """The variables one service gives (upstream envvars.FromServices for one service), in order."""
    if not is_service_ip_set(svc) or not svc.spec.ports:
        return []
    prefix = env_name(svc.metadata.name)
    out = [(f"{prefix}_SERVICE_HOST", svc.spec.clusterIP)]
    port_var = f"{prefix}_SERVICE_PORT"
    out.append((port_var, str(svc.spec.ports[0].port)))
    for sp in svc.spec.ports:
        if sp.name:
            out.append((f"{port_var}_{env_name(sp.name)}", str(sp.port)))
    return out + _link_variables(svc)


def service_env(services: Iterable, namespace: str, enable_service_links: bool = True,
                master_services: Iterable[str] = MASTER_SERVICES,
                master_namespace: str = MASTER_SERVICE_NAMESPACE) -> dict[str, str]:
    """The discovery variables for a pod in `namespace` given every Service the kubelet knows.

    Services are taken in name order, so the result (an insertion-ordered dict) is deterministic."""
    masters = set(master_services)
    chosen: dict[str, object] = {}
    for svc in sorted(services, key=lambda s: (s.metadata.namespace, s.metadata.name)):
        if not is_service_ip_set(svc):
            continue
        name = svc.metadata.name
        if svc.metadata.namespace == master_namespace and name in masters:
            # the pod's own namespace may hold a service of the same name: that one wins
            if name not in chosen:
                chosen[name] = svc
        elif svc.metadata.namespace == namespace and enable_service_links:
            chosen[name] = svc
    out: dict[str, str] = {}
    for name in sorted(chosen):
        for k, v in variables_for(chosen[name]):
            out[k] = v
    return out


def pod_service_env(pod, services: Iterable, **kw) -> dict[str, str]:
    """`service_env` for `pod`: its namespace and `spec.enableServiceLinks` (unset means true)."""
    spec = pod.spec
    enable = spec.enableServiceLinks if spec.HasField("enableServiceLinks") else True
    return service_env(services, pod.metadata.namespace or "default", enable, **kw)
