"""Rows of the storage kinds as kubectl prints them: PersistentVolumeClaims, PersistentVolumes (access
modes in their short forms, the bound claim) and StorageClasses (the default one marked)."""
from __future__ import annotations

from minik8s.api import kinds

from minik8s.api.printing.cells import since
from minik8s.api.printing.columns import columns


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                 "ReadWriteOncePod": "RWOP"}


@columns(kinds.PERSISTENT_VOLUME_CLAIM, "Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "Age",
         wide=("VolumeMode",))
def _pvc_row(o, now):
    phase = "Terminating" if o.metadata.deletionTimestamp else o.status.phase
    capacity = modes = ""
    if o.spec.volumeName:
        modes = ",".join(_ACCESS_MODES.get(m, m) for m in o.status.accessModes)
        capacity = o.status.capacity.get("storage", "")
    cls = o.metadata.annotations.get("volume.beta.kubernetes.io/storage-class") or \
        (o.spec.storageClassName if o.spec.HasField("storageClassName") else "")
    return [o.metadata.name, phase, o.spec.volumeName, capacity, modes, cls, since(o.metadata.creationTimestamp, now),
            o.spec.volumeMode if o.spec.HasField("volumeMode") else "<unset>"]


@columns(kinds.PERSISTENT_VOLUME, "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim",
         "StorageClass", "Reason", "Age", wide=("VolumeMode",))
def _pv_row(o, now):
    phase = "Terminating" if o.metadata.deletionTimestamp else o.status.phase
    ref = o.spec.claimRef
    claim = f"{ref.namespace}/{ref.name}" if ref.name else ""
    return [o.metadata.name, o.spec.capacity.get("storage", ""),
            ",".join(_ACCESS_MODES.get(m, m) for m in o.spec.accessModes), o.spec.persistentVolumeReclaimPolicy,
            phase, claim, o.spec.storageClassName, o.status.reason, since(o.metadata.creationTimestamp, now),
            o.spec.volumeMode if o.spec.HasField("volumeMode") else "<unset>"]


@columns(kinds.STORAGE_CLASS, "Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age")
def _storageclass_row(o, now):
    default = o.metadata.annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
    return [o.metadata.name + (" (default)" if default else ""), o.provisioner, o.reclaimPolicy or "Delete",
            o.volumeBindingMode or "Immediate", "true" if o.allowVolumeExpansion else "false",
            since(o.metadata.creationTimestamp, now)]
