"""A container's environment and command line as upstream's kubelet builds them: `env` in order, with
`valueFrom.fieldRef` (the downward API) and `resourceFieldRef`, `$(VAR)` references expanded against
the variables defined before them (`$$(VAR)` escapes, an undefined `$(VAR)` stays as written), and
the same expansion applied to `command` and `args`. The service variables (WEB_SERVICE_HOST, ...;
minik8s/api/service_env.py) come before the container's own."""
from __future__ import annotations

import math

from minik8s.api.quantity import parse_quantity


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


def container_env(pod, container, pod_ip: str = "", host_ip: str = "",
                  node_allocatable: dict[str, str] | None = None, base: dict[str, str] | None = None
                  ) -> dict[str, str]:
    """`base` (the service discovery variables) comes first; the container's `env` may override it and
    refer to it with `$(NAME)`."""
    env: dict[str, str] = dict(base or {})
    for var in container.env:
        if var.HasField("valueFrom"):
            src = var.valueFrom
            if src.HasField("fieldRef"):
                env[var.name] = field_ref(pod, src.fieldRef.fieldPath, pod_ip, host_ip)
            elif src.HasField("resourceFieldRef"):
                env[var.name] = resource_field_ref(pod, container, src.resourceFieldRef, node_allocatable or {})
            elif src.HasField("configMapKeyRef") or src.HasField("secretKeyRef"):
                ref = src.configMapKeyRef if src.HasField("configMapKeyRef") else src.secretKeyRef
                if ref.HasField("optional") and ref.optional:
                    continue
                what = "configmap" if src.HasField("configMapKeyRef") else "secret"
                raise EnvError(f'{what} "{ref.name}" not found: minik8s does not serve {what}s')
            else:
                env[var.name] = ""
        else:
            env[var.name] = expand(var.value, env)
    return env


def command_line(container, env: dict[str, str]) -> tuple[list[str], list[str]]:
    return ([expand(a, env) for a in container.command], [expand(a, env) for a in container.args])
