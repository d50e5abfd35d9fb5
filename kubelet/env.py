"""A container's environment and command line as upstream's kubelet builds them: `envFrom` (every key
of a ConfigMap's `data` or a Secret's, with `prefix`), then `env` in order, with `valueFrom.fieldRef`
(the downward API), `resourceFieldRef`, `configMapKeyRef` and `secretKeyRef`; `$(VAR)` references
expanded against the variables defined before them (`$$(VAR)` escapes, an undefined `$(VAR)` stays as
written), and the same expansion applied to `command` and `args`. The service variables
(WEB_SERVICE_HOST, ...; minik8s/api/service_env.py) come before the container's own. A missing object
or key not marked `optional` is upstream's CreateContainerConfigError message."""
from __future__ import annotations

import math

from minik8s.api.quantity import parse_quantity

from kubelet.pod_objects import ObjectUnavailable, PodObjects, not_found


class EnvError(Exception):
    """The environment cannot be built; the message is the CreateContainerConfigError message."""


def expand(text: str, env: dict[str, str]) -> str:
    """Upstream's third_party/forked/golang/expansion: `$(NAME)` -> env[NAME] when defined."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":                       # `$$` is an escaped `$`
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    if name in env:
                        out.append(env[name])
                    else:
                        out.append(text[i:end + 1])
                    i = end + 1
                    continue
                out.append(text[i:])            # unterminated: left as written
                break
            out.append("$" + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def field_ref(pod, path: str, pod_ip: str = "", host_ip: str = "") -> str:
    meta = pod.metadata
    if path == "metadata.name":
        return meta.name
    if path == "metadata.namespace":
        return meta.namespace
    if path == "metadata.uid":
        return meta.uid
    if path.startswith("metadata.labels['") and path.endswith("']"):
        return meta.labels.get(path[len("metadata.labels['"):-2], "")
    if path.startswith("metadata.annotations['") and path.endswith("']"):
        return meta.annotations.get(path[len("metadata.annotations['"):-2], "")
    if path == "spec.nodeName":
        return pod.spec.nodeName
    if path == "spec.serviceAccountName":
        return pod.spec.serviceAccountName
    if path in ("status.podIP", "status.podIPs"):
        return pod_ip
    if path in ("status.hostIP", "status.hostIPs"):
        return host_ip
    raise EnvError(f'unsupported fieldRef path "{path}"')


def resource_field_ref(pod, container, ref, node_allocatable: dict[str, str]) -> str:
    """requests.cpu / limits.memory ... in units of `divisor` (rounded up, as upstream)."""
    name = ref.containerName or container.name
    target = next((c for c in list(pod.spec.containers) + list(pod.spec.initContainers) if c.name == name), None)
    if target is None:
        raise EnvError(f'container "{name}" not found for resourceFieldRef')
    kind, _, resource = ref.resource.partition(".")
    value = (target.resources.limits if kind == "limits" else target.resources.requests).get(resource)
    if value is None and kind == "limits":
        value = node_allocatable.get(resource)    # an unset limit reads as the node's allocatable
    if value is None:
        value = "0"
    divisor = parse_quantity(ref.divisor or "1")
    q = parse_quantity(value)
    if resource == "cpu":
        return str(math.ceil(q.milli_value() / max(divisor.milli_value(), 1)))
    return str(math.ceil(q.value() / max(divisor.value(), 1)))


def _source(objects: PodObjects, kind: str, name: str, optional: bool):
    """The ConfigMap or Secret `name`; None when it is absent and optional, else EnvError."""
    try:
        obj = objects.get(kind, name)
    except ObjectUnavailable as e:
        raise EnvError(str(e)) from None
    if obj is None and not optional:
        raise EnvError(not_found(kind, name))
    return obj


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _key_ref(pod, objects: PodObjects, kind: str, ref) -> str | None:
    """A configMapKeyRef/secretKeyRef's value; None when it is optional and missing."""
    optional = ref.HasField("optional") and ref.optional
    obj = _source(objects, kind, ref.name, optional)
    if obj is None:
        return None
    if ref.key not in obj.data:
        if optional:
            return None
        raise EnvError(f"couldn't find key {ref.key} in {kind} {pod.metadata.namespace}/{ref.name}")
    return _text(obj.data[ref.key])


def _env_from(env: dict[str, str], objects: PodObjects, container) -> None:
    for src in container.envFrom:
        kind, ref = ("ConfigMap", src.configMapRef) if src.HasField("configMapRef") else ("Secret", src.secretRef)
        obj = _source(objects, kind, ref.name, ref.HasField("optional") and ref.optional)
        if obj is not None:
            for key in sorted(obj.data):
                env[src.prefix + key] = _text(obj.data[key])


def container_env(pod, container, pod_ip: str = "", host_ip: str = "",
                  node_allocatable: dict[str, str] | None = None, base: dict[str, str] | None = None,
                  objects: PodObjects | None = None) -> dict[str, str]:
    """`base` (the service discovery variables) comes first; the container's `envFrom` and `env` may
    override it and refer to it with `$(NAME)`. `objects`: the pod's ConfigMaps and Secrets."""
    env: dict[str, str] = dict(base or {})
    objects = objects or PodObjects()
    _env_from(env, objects, container)
    for var in container.env:
        if var.HasField("valueFrom"):
            src = var.valueFrom
            if src.HasField("fieldRef"):
                env[var.name] = field_ref(pod, src.fieldRef.fieldPath, pod_ip, host_ip)
            elif src.HasField("resourceFieldRef"):
                env[var.name] = resource_field_ref(pod, container, src.resourceFieldRef, node_allocatable or {})
            elif src.HasField("configMapKeyRef") or src.HasField("secretKeyRef"):
                kind, ref = ("ConfigMap", src.configMapKeyRef) if src.HasField("configMapKeyRef") \
                    else ("Secret", src.secretKeyRef)
                value = _key_ref(pod, objects, kind, ref)
                if value is not None:
                    env[var.name] = value
            else:
                env[var.name] = ""
        else:
            env[var.name] = expand(var.value, env)
    return env


def command_line(container, env: dict[str, str]) -> tuple[list[str], list[str]]:
    return ([expand(a, env) for a in container.command], [expand(a, env) for a in container.args])
