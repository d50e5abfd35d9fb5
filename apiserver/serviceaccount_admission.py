"""The ServiceAccount admission plugin (upstream plugin/pkg/admission/serviceaccount) for new pods.

A pod runs as `spec.serviceAccountName`, `default` when it names none. A pod naming a ServiceAccount
that does not exist is refused: `pods "p" is forbidden: error looking up service account ns/sa:
serviceaccount "sa" not found`. Unless `automountServiceAccountToken` is false (the pod's setting,
else the ServiceAccount's), the pod gets upstream's projected volume `kube-api-access-xxxxx` -- a token
for the account bound to the pod (path `token`, 3607 s), the cluster's CA (`ca.crt` from ConfigMap
`kube-root-ca.crt`) and `namespace` -- mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount
in every container that has no mount there already.

Unlike upstream, a namespace's `default` ServiceAccount that does not exist yet (the serviceaccount
controller makes it moments after the namespace, and a bare API server has no controller) lets the pod
in without the volume, rather than refusing it."""
from __future__ import annotations

import random

from minik8s.api import kinds
from minik8s.api.errors import Forbidden
from minik8s.api.kinds.serviceaccount import DEFAULT_NAME

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
TOKEN_EXPIRATION = 3607         # upstream's value, which marks a token the kubelet asked for on a pod's behalf
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"     # upstream's utilrand alphabet


class ServiceAccountAdmission:
    def __init__(self):
        self.registry = None        # set by Admission.attach: the accounts are read from it

    def admit(self, info, obj) -> None:
        if info is not kinds.POD or self.registry is None:
            return
        spec, meta = obj.spec, obj.metadata
        if not spec.serviceAccountName:     # the deprecated `serviceAccount` names it too, as upstream
            spec.serviceAccountName = spec.serviceAccount or DEFAULT_NAME
        rec = self.registry.find(kinds.SERVICE_ACCOUNT, meta.namespace, spec.serviceAccountName)
        if rec is None:
            if spec.serviceAccountName == DEFAULT_NAME:
                return
            missing = f'serviceaccount "{spec.serviceAccountName}" not found'
            raise Forbidden(f'pods "{meta.name or meta.generateName}" is forbidden: error looking up service '
                            f'account {meta.namespace}/{spec.serviceAccountName}: {missing}',
                            [("spec.serviceAccountName", missing)])
        sa = rec.decode()
        if spec.HasField("automountServiceAccountToken"):
            automount = spec.automountServiceAccountToken
        else:
            automount = not sa.HasField("automountServiceAccountToken") or sa.automountServiceAccountToken
        containers = list(spec.initContainers) + list(spec.containers)
        if not automount or any(m.mountPath == MOUNT_PATH for c in containers for m in c.volumeMounts):
            return
        taken = {v.name for v in spec.volumes}
        name = _volume_name()
        while name in taken:
            name = _volume_name()
        _add_volume(spec, name)
        for c in containers:
            c.volumeMounts.add(name=name, readOnly=True, mountPath=MOUNT_PATH)


def _volume_name() -> str:
    return VOLUME_PREFIX + "".join(random.choices(_SUFFIX_CHARS, k=5))


def _add_volume(spec, name: str) -> None:
    vol = spec.volumes.add(name=name)
    vol.projected.defaultMode = 0o644
    token = vol.projected.sources.add().serviceAccountToken
    token.expirationSeconds, token.path = TOKEN_EXPIRATION, "token"
    ca = vol.projected.sources.add().configMap
    ca.name = ROOT_CA_CONFIG_MAP
    ca.items.add(key="ca.crt", path="ca.crt")
    ns = vol.projected.sources.add().downwardAPI.items.add(path="namespace")
    ns.fieldRef.apiVersion, ns.fieldRef.fieldPath = "v1", "metadata.namespace"
