"""The Endpoints kind (core/v1): port protocol defaults and validation of subsets."""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo
from minik8s.api.pb import core_pb2
from minik8s.api.validation_common import (_c, _dns_label, _enum, Errors, _Errors, _ix, _name_subdomain,
                                           _non_special_ip, _object_meta, _parse_ip, _port_num_msgs,
                                           _PROTOCOLS, _qualified_name, _valid_ip)


# ---------------------------------------------------------------- defaults
def _default_endpoints(ep) -> None:
    for subset in ep.subsets:
        for port in subset.ports:
            if not port.protocol:
                port.protocol = "TCP"


# ---------------------------------------------------------------- validation
def _api_server_on_loopback(ep, ip: str) -> bool:
    """The API server's own Endpoints (default/kubernetes) name its loopback address when it listens
    on loopback alone, a cluster on one machine (apiserver/kubernetes_service.py)."""
    parsed = _parse_ip(ip)
    return ep.metadata.namespace == "default" and ep.metadata.name == "kubernetes" and parsed is not None \
        and parsed.is_loopback


def validate_endpoints(ep, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, ep.metadata)
    for i, subset in enumerate(ep.subsets):
        p = _ix("subsets", i)
        if not subset.addresses and not subset.notReadyAddresses:
            errs.required(p, "must specify `addresses` or `notReadyAddresses`")
        for name in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(getattr(subset, name)):
                ap = _ix(_c(p, name), j)
                _valid_ip(errs, _c(ap, "ip"), addr.ip)
                if addr.hostname:
                    _dns_label(errs, _c(ap, "hostname"), addr.hostname)
                if addr.HasField("nodeName"):
                    for msg in _name_subdomain(addr.nodeName):
                        errs.invalid(_c(ap, "nodeName"), addr.nodeName, msg)
                if not _api_server_on_loopback(ep, addr.ip):
                    _non_special_ip(errs, _c(ap, "ip"), addr.ip)
        for j, port in enumerate(subset.ports):
            pp = _ix(_c(p, "ports"), j)
            if len(subset.ports) > 1 and not port.name:
                errs.required(_c(pp, "name"))
            elif port.name:
                _dns_label(errs, _c(pp, "name"), port.name)
            for msg in _port_num_msgs(port.port):
                errs.invalid(_c(pp, "port"), port.port, msg)
            _enum(errs, _c(pp, "protocol"), port.protocol, _PROTOCOLS)
            if port.HasField("appProtocol"):
                _qualified_name(errs, _c(pp, "appProtocol"), port.appProtocol)
    return errs


ENDPOINTS = KindInfo("Endpoints", "", "v1", "endpoints", ("ep",), True, core_pb2.Endpoints, has_status=False,
                     defaults=_default_endpoints, validate=validate_endpoints)
