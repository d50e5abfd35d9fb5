"""The built-in dynamic provisioners: each makes a directory per claim under the cluster home
(`$MINIK8S_HOME/volumes/pvc-<uid>`) and describes it as a PersistentVolume.

`minik8s.io/hostpath` gives a hostPath volume that every node of this machine reaches, as network
storage would be reached: a pod rescheduled to another node finds its data. `minik8s.io/local` gives a
`local` volume pinned by nodeAffinity to the node its first consumer was scheduled to (the class is
WaitForFirstConsumer). Deleting a volume they made removes its directory, never anything outside the
volumes root."""
from __future__ import annotations

import os
import shutil

from minik8s.api.pb import storage_pb2
from minik8s.client.config import home_dir

HOSTPATH = "minik8s.io/hostpath"
LOCAL = "minik8s.io/local"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTNAME_LABEL = "kubernetes.io/hostname"


def volumes_root(home: str | None) -> str:
    return os.path.join(home_dir(home), "volumes")


def _volume(root: str, pvc, sc) -> storage_pb2.PersistentVolume:
    name = f"pvc-{pvc.metadata.uid}"
    path = os.path.join(root, name)
    os.makedirs(path, mode=0o777, exist_ok=True)
    os.chmod(path, 0o777)           # any container user may write, as a fresh network volume
    pv = storage_pb2.PersistentVolume(apiVersion="v1", kind="PersistentVolume")
    pv.metadata.name = name
    pv.metadata.annotations[PROVISIONED_BY] = sc.provisioner
    spec = pv.spec
    spec.capacity["storage"] = pvc.spec.resources.requests["storage"]
    spec.accessModes.extend(pvc.spec.accessModes)
    spec.persistentVolumeReclaimPolicy = sc.reclaimPolicy or "Delete"
    spec.storageClassName = sc.metadata.name
    spec.volumeMode = pvc.spec.volumeMode or "Filesystem"
    spec.mountOptions.extend(sc.mountOptions)
    ref = spec.claimRef
    ref.kind, ref.apiVersion = "PersistentVolumeClaim", "v1"
    ref.namespace, ref.name, ref.uid = pvc.metadata.namespace, pvc.metadata.name, pvc.metadata.uid
    return pv


def provision_hostpath(root: str, pvc, sc, node_hostname: str) -> storage_pb2.PersistentVolume:
    pv = _volume(root, pvc, sc)
    pv.spec.hostPath.path = os.path.join(root, pv.metadata.name)
    pv.spec.hostPath.type = "DirectoryOrCreate"
    return pv


def provision_local(root: str, pvc, sc, node_hostname: str) -> storage_pb2.PersistentVolume:
    pv = _volume(root, pvc, sc)
    pv.spec.local.path = os.path.join(root, pv.metadata.name)
    term = pv.spec.nodeAffinity.required.nodeSelectorTerms.add()
    term.matchExpressions.add(key=HOSTNAME_LABEL, operator="In", values=[node_hostname])
    return pv


PROVISIONERS = {HOSTPATH: provision_hostpath, LOCAL: provision_local}


def delete_volume_data(root: str, pv) -> None:
    path = pv.spec.hostPath.path or pv.spec.local.path
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.dirname(real) != real_root:
        raise OSError(f"refusing to delete {path}: not a provisioned volume under {root}")
    if os.path.isdir(real):
        shutil.rmtree(real)
