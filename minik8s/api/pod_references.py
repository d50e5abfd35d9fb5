"""Which ConfigMaps and Secrets a pod refers to (upstream's VisitPodConfigmapNames/VisitPodSecretNames):
its volumes (projected ones' sources too), every container's `env[].valueFrom` and `envFrom`, init containers included, and for
Secrets `imagePullSecrets`. The node authorizer lets a node read exactly these; the kubelet fetches them."""
from __future__ import annotations


def _containers(spec):
    return list(spec.initContainers) + list(spec.containers)


def config_map_names(pod) -> set[str]:
    spec = pod.spec
    names = {v.configMap.name for v in spec.volumes if v.HasField("configMap")}
    names |= {s.configMap.name for v in spec.volumes for s in v.projected.sources if s.HasField("configMap")}
    for c in _containers(spec):
        names |= {e.configMapRef.name for e in c.envFrom if e.HasField("configMapRef")}
        names |= {e.valueFrom.configMapKeyRef.name for e in c.env
                  if e.HasField("valueFrom") and e.valueFrom.HasField("configMapKeyRef")}
    names.discard("")
    return names


def secret_names(pod) -> set[str]:
    spec = pod.spec
    names = {v.secret.secretName for v in spec.volumes if v.HasField("secret")}
    names |= {s.secret.name for v in spec.volumes for s in v.projected.sources if s.HasField("secret")}
    names |= {ref.name for ref in spec.imagePullSecrets}
    for c in _containers(spec):
        names |= {e.secretRef.name for e in c.envFrom if e.HasField("secretRef")}
        names |= {e.valueFrom.secretKeyRef.name for e in c.env
                  if e.HasField("valueFrom") and e.valueFrom.HasField("secretKeyRef")}
    names.discard("")
    return names


def referenced_names(pod, kind: str) -> set[str]:
    """The names of the `kind` ("ConfigMap" or "Secret") objects `pod` refers to, in its namespace."""
    return config_map_names(pod) if kind == "ConfigMap" else secret_names(pod)
