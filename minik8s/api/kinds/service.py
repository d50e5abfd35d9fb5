"""The Service kind (core/v1): its defaults (SetDefaults_Service, with the clusterIP/clusterIPs
pairing upstream's strategy does), validation with the clusterIP update rules, and the write hook that
allocates a ClusterIP and NodePorts (minik8s.api.service_allocation) on create and update.
Service ipFamilies/ipFamilyPolicy are not defaulted.
"""
from __future__ import annotations

from minik8s.api.kinds.info import KindInfo, Strategy
from minik8s.api.pb import core_pb2
from minik8s.api.podspec_defaults import _set_int
from minik8s.api.service_allocation import allocate
from minik8s.api.validation_common import (_c, _dns_label, _dns_subdomain, _enum, Errors, _Errors,
                                           _int_or_string, _ix, _labels, _name_dns1035, _non_special_ip,
                                           _object_meta, _parse_ip, _port_num_msgs, _port_num_or_name,
                                           _PROTOCOLS, _qualified_name, _quote, _Raw, _valid_cidr, _valid_ip)


# ---------------------------------------------------------------- defaults
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800   # 3 hours


def _externally_accessible(svc) -> bool:
    return svc.spec.type in ("LoadBalancer", "NodePort") or \
        (svc.spec.type == "ClusterIP" and len(svc.spec.externalIPs) > 0)


def _default_service(svc) -> None:
    spec = svc.spec
    if not spec.sessionAffinity:
        spec.sessionAffinity = "None"
    if spec.sessionAffinity == "None":
        spec.ClearField("sessionAffinityConfig")
    if spec.sessionAffinity == "ClientIP":
        cfg = spec.sessionAffinityConfig
        if not (spec.HasField("sessionAffinityConfig") and cfg.HasField("clientIP")
                and cfg.clientIP.HasField("timeoutSeconds")):
            cfg.clientIP.timeoutSeconds = DEFAULT_CLIENT_IP_AFFINITY_SECONDS
    if not spec.type:
        spec.type = "ClusterIP"
    for port in spec.ports:
        if not port.protocol:
            port.protocol = "TCP"
        tp = port.targetPort
        kind = tp.WhichOneof("kind")
        if kind is None or (kind == "number_value" and tp.number_value == 0) \
                or (kind == "string_value" and tp.string_value == ""):
            _set_int(tp, port.port)
    if _externally_accessible(svc) and not spec.externalTrafficPolicy:
        spec.externalTrafficPolicy = "Cluster"
    if not spec.HasField("internalTrafficPolicy") and spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec.internalTrafficPolicy = "Cluster"
    if spec.type == "LoadBalancer" and not spec.HasField("allocateLoadBalancerNodePorts"):
        spec.allocateLoadBalancerNodePorts = True
    # The registry strategy keeps clusterIP and clusterIPs[0] in step (NormalizeClusterIPs).
    if spec.type != "ExternalName":
        if spec.clusterIP and not spec.clusterIPs:
            spec.clusterIPs.append(spec.clusterIP)
        elif spec.clusterIPs and not spec.clusterIP:
            spec.clusterIP = spec.clusterIPs[0]


# ---------------------------------------------------------------- validation
_NODE_PORT_RANGE = (30000, 32767)


def _service_cluster_ips(spec) -> list[str]:
    """ClusterIPs as the registry normalises them: clusterIPs, or [clusterIP] when only that is set."""
    if spec.clusterIPs:
        return list(spec.clusterIPs)
    return [spec.clusterIP] if spec.clusterIP else []


def _is_headless(spec) -> bool:
    return _service_cluster_ips(spec) == ["None"]


_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def validate_service(svc, old=None) -> Errors:
    errs = _Errors()
    _object_meta(errs, svc.metadata, _name_dns1035)
    spec = svc.spec
    headless = _is_headless(spec)
    ips = _service_cluster_ips(spec)
    if not spec.ports and not headless and spec.type != "ExternalName":
        errs.required("spec.ports")
    if spec.type == "LoadBalancer" and headless:
        errs.invalid("spec.clusterIPs[0]", ips[0], "may not be set to 'None' for LoadBalancer services")
    elif spec.type == "NodePort" and headless:
        errs.invalid("spec.clusterIPs[0]", ips[0], "may not be set to 'None' for NodePort services")
    elif spec.type == "ExternalName":
        if ips:
            errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
        if spec.ipFamilies:
            errs.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
        if spec.HasField("ipFamilyPolicy"):
            errs.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
        cname = spec.externalName.removesuffix(".")
        if cname:
            _dns_subdomain(errs, "spec.externalName", cname)
        else:
            errs.required("spec.externalName")
    names: set = set()
    for i, port in enumerate(spec.ports):
        p = _ix("spec.ports", i)
        if len(spec.ports) > 1 and not port.name:
            errs.required(_c(p, "name"))
        elif port.name:
            _dns_label(errs, _c(p, "name"), port.name)
            if port.name in names:
                errs.duplicate(_c(p, "name"), port.name)
            else:
                names.add(port.name)
        for msg in _port_num_msgs(port.port):
            errs.invalid(_c(p, "port"), port.port, msg)
        _enum(errs, _c(p, "protocol"), port.protocol, _PROTOCOLS)
        _port_num_or_name(errs, _c(p, "targetPort"), _int_or_string(port.targetPort))
        if port.HasField("appProtocol"):
            _qualified_name(errs, _c(p, "appProtocol"), port.appProtocol)
        if port.nodePort and spec.type in ("NodePort", "LoadBalancer") \
                and not _NODE_PORT_RANGE[0] <= port.nodePort <= _NODE_PORT_RANGE[1]:
            errs.invalid(_c(p, "nodePort"), port.nodePort, "provided port is not in the valid range. The "
                         f"range of valid ports is {_NODE_PORT_RANGE[0]}-{_NODE_PORT_RANGE[1]}")
    _labels(errs, "spec.selector", spec.selector)
    _enum(errs, "spec.sessionAffinity", spec.sessionAffinity, ("ClientIP", "None"))
    if spec.sessionAffinity == "ClientIP":
        cfg = spec.sessionAffinityConfig
        detail = "when session affinity type is ClientIP"
        if not spec.HasField("sessionAffinityConfig"):
            errs.required("spec.sessionAffinityConfig", detail)
        elif not cfg.HasField("clientIP"):
            errs.required("spec.sessionAffinityConfig.clientIP", detail)
        elif not cfg.clientIP.HasField("timeoutSeconds"):
            errs.required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", detail)
        elif not 0 < cfg.clientIP.timeoutSeconds <= 86400:
            errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", cfg.clientIP.timeoutSeconds,
                         "must be greater than 0 and less than 86400")
    elif spec.sessionAffinity == "None" and spec.HasField("sessionAffinityConfig"):
        errs.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")
    if spec.type != "ExternalName":
        _service_cluster_ip_fields(errs, spec)
    for i, ip in enumerate(spec.externalIPs):
        p = _ix("spec.externalIPs", i)
        if _valid_ip(errs, p, ip):
            _non_special_ip(errs, p, ip)
    if not spec.type:
        errs.required("spec.type")
    elif spec.type not in _SERVICE_TYPES:
        errs.not_supported("spec.type", spec.type, _SERVICE_TYPES)
    if spec.type == "ClusterIP":
        for i, port in enumerate(spec.ports):
            if port.nodePort:
                errs.forbidden(_c(_ix("spec.ports", i), "nodePort"), "may not be used when `type` is 'ClusterIP'")
    seen_node_ports, seen_ports = set(), set()
    for i, port in enumerate(spec.ports):
        if port.nodePort:
            if (port.protocol, port.nodePort) in seen_node_ports:
                errs.duplicate(_c(_ix("spec.ports", i), "nodePort"), port.nodePort)
            seen_node_ports.add((port.protocol, port.nodePort))
        if (port.protocol, port.port) in seen_ports:
            errs.duplicate(_ix("spec.ports", i), _Raw(
                f"core.ServicePort{{Name:\"\", Protocol:{_quote(port.protocol)}, AppProtocol:(*string)(nil), "
                f"Port:{port.port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"))
        seen_ports.add((port.protocol, port.port))
    if spec.loadBalancerSourceRanges:
        if spec.type != "LoadBalancer":
            errs.forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
        for i, cidr in enumerate(spec.loadBalancerSourceRanges):
            _valid_cidr(errs, _ix("spec.LoadBalancerSourceRanges", i), cidr.strip())
    if spec.HasField("allocateLoadBalancerNodePorts") and spec.type != "LoadBalancer":
        errs.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
    if spec.type == "LoadBalancer" and not spec.HasField("allocateLoadBalancerNodePorts"):
        errs.required("spec.allocateLoadBalancerNodePorts")
    external = spec.type in ("LoadBalancer", "NodePort") or (spec.type == "ClusterIP" and len(spec.externalIPs))
    if not external:
        if spec.externalTrafficPolicy:
            errs.invalid("spec.externalTrafficPolicy", spec.externalTrafficPolicy,
                         "may only be set for externally-accessible services")
    else:
        _enum(errs, "spec.externalTrafficPolicy", spec.externalTrafficPolicy, ("Cluster", "Local"))
    needs_health_check = spec.type == "LoadBalancer" and spec.externalTrafficPolicy == "Local"
    if not needs_health_check and spec.healthCheckNodePort:
        errs.invalid("spec.healthCheckNodePort", spec.healthCheckNodePort,
                     "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")
    if not spec.HasField("internalTrafficPolicy"):
        if spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.required("spec.internalTrafficPolicy")
    elif spec.internalTrafficPolicy not in ("Cluster", "Local"):
        errs.not_supported("spec.internalTrafficPolicy", spec.internalTrafficPolicy, ("Cluster", "Local"))
    if old is not None:
        _service_update(errs, svc, old)
    return errs


def _service_cluster_ip_fields(errs: _Errors, spec) -> None:
    """ValidateServiceClusterIPsRelatedFields, on the normalised clusterIPs."""
    ips = _service_cluster_ips(spec)
    if spec.clusterIP:
        if spec.clusterIPs and spec.clusterIPs[0] != spec.clusterIP:
            errs.invalid("spec.clusterIPs", list(spec.clusterIPs), "first value must match `clusterIP`")
    elif spec.clusterIPs:
        errs.invalid("spec.clusterIPs", list(spec.clusterIPs), "must be empty when `clusterIP` is not specified")
    seen = set()
    for i, family in enumerate(spec.ipFamilies):
        if family not in ("IPv4", "IPv6"):
            errs.not_supported(_ix("spec.ipFamilies", i), family, ("IPv4", "IPv6"))
        if family in seen:
            errs.duplicate(_ix("spec.ipFamilies", i), family)
        seen.add(family)
    if spec.HasField("ipFamilyPolicy") and spec.ipFamilyPolicy not in (
            "PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.not_supported("spec.ipFamilyPolicy", spec.ipFamilyPolicy,
                           ("PreferDualStack", "RequireDualStack", "SingleStack"))
    invalid = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                invalid = True
                errs.invalid("spec.clusterIPs", ips, "'None' must be the first and only value")
            continue
        invalid |= not _valid_ip(errs, _ix("spec.clusterIPs", i), ip)
    if len(ips) > 2:
        errs.invalid("spec.clusterIPs", ips, "may only hold up to 2 values")
    if invalid:
        return
    if len(ips) == 2 and _parse_ip(ips[0]).version == _parse_ip(ips[1]).version:
        errs.invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family")


def _service_update(errs: _Errors, svc, old) -> None:
    if "ExternalName" in (svc.spec.type, old.spec.type):
        return
    new_ips, old_ips = _service_cluster_ips(svc.spec), _service_cluster_ips(old.spec)
    if new_ips == ["None"] and old_ips == ["None"]:
        return
    if not new_ips:
        return      # left empty by the client: the server keeps the allocated clusterIP
    for i, ip in enumerate(old_ips[: len(new_ips)]):
        if new_ips[i] != ip:
            errs.invalid(_ix("spec.clusterIPs", i), new_ips, "may not change once set")


SERVICE = KindInfo("Service", "", "v1", "services", ("svc",), True, core_pb2.Service,
                   defaults=_default_service, validate=validate_service, strategy=Strategy(allocate=allocate))
