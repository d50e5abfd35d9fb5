"""Pod volumes on the node: `emptyDir` (a directory under the pod's own directory, shared by its
containers and removed with the pod), `hostPath` (a host path, checked against its `type` as upstream
does), `downwardAPI` (files holding the pod's fields), and `configMap` / `secret` (a file per key, or per
`items` entry, with `defaultMode` and per-item `mode`; written by the atomic writer at every sync, so a
changed object shows in the mounted files), and `projected` (ServiceAccount token, configMap, secret
and downwardAPI sources in one directory, also by the atomic writer: a refreshed token replaces the
file). Each container's `volumeMounts` become runtime Mounts,
`subPath` included; ConfigMap and Secret volumes are mounted read-only, and a `subPath` into one is the
file as it was when the container started, as upstream."""
from __future__ import annotations

import os
import shutil
import stat

from kubelet import atomic_writer
from kubelet.paths import pod_dir
from kubelet.env import EnvError, field_ref
from kubelet.pod_objects import ObjectUnavailable, PodObjects, not_found
from kubelet.runtime.base import Mount


class VolumeError(Exception):
    """A volume cannot be set up; the message is the FailedMount event's."""


def _check_host_path(name: str, path: str, type_: str) -> None:
    def fail(what: str):
        raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: '
                          f'{path} is not {what}')

    if type_ == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
        return
    if type_ == "FileOrCreate":
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        if not os.path.exists(path):
            open(path, "a").close()
            os.chmod(path, 0o644)
        return
    if not type_:
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        fail({"Directory": "a directory", "File": "a file", "Socket": "a socket",
              "CharDevice": "a character device", "BlockDevice": "a block device"}.get(type_, "present"))
    checks = {"Directory": (stat.S_ISDIR, "a directory"), "File": (stat.S_ISREG, "a file"),
              "Socket": (stat.S_ISSOCK, "a socket"), "CharDevice": (stat.S_ISCHR, "a character device"),
              "BlockDevice": (stat.S_ISBLK, "a block device")}
    check = checks.get(type_)
    if check and not check[0](mode):
        fail(check[1])


def _payload(kind: str, obj, items, default_mode: int, optional: bool) -> atomic_writer.Payload:
    """Upstream's MakePayload: every key (ConfigMap `data` and `binaryData`), or just `items`."""
    data = {k: v.encode() for k, v in obj.data.items()} if kind == "ConfigMap" else dict(obj.data)
    if kind == "ConfigMap":
        data.update(obj.binaryData)
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    payload = {}
    for item in items:
        if item.key not in data:
            if optional:
                continue
            raise ValueError(f"{'configmap' if kind == 'ConfigMap' else 'secret'} references non-existent "
                             f"{'config' if kind == 'ConfigMap' else 'secret'} key: {item.key}")
        payload[item.path] = (data[item.key], item.mode if item.HasField("mode") else default_mode)
    return payload


def _object_volume(base: str, v, objects: PodObjects) -> str:
    """A configMap or secret volume's directory, holding what the object holds now."""
    kind, src = ("ConfigMap", v.configMap) if v.HasField("configMap") else ("Secret", v.secret)
    name = src.name if kind == "ConfigMap" else src.secretName
    optional = src.HasField("optional") and src.optional
    fail = f'MountVolume.SetUp failed for volume "{v.name}" : '
    try:
        obj = objects.get(kind, name)
    except ObjectUnavailable as e:
        raise VolumeError(fail + str(e)) from None
    if obj is None and not optional:
        raise VolumeError(fail + not_found(kind, name))
    mode = src.defaultMode if src.HasField("defaultMode") else 0o644
    try:
        payload = _payload(kind, obj, src.items, mode, optional) if obj is not None else {}
    except ValueError as e:
        raise VolumeError(fail + str(e)) from None
    d = os.path.join(base, "kubernetes.io~configmap" if kind == "ConfigMap" else "kubernetes.io~secret", v.name)
    atomic_writer.write(d, payload)
    return d


def _projected_volume(base: str, v, pod, objects: PodObjects, pod_ip: str, host_ip: str) -> str:
    """Upstream's projected volume: every source's files in one directory, written at once."""
    fail = f'MountVolume.SetUp failed for volume "{v.name}" : '
    mode = v.projected.defaultMode if v.projected.HasField("defaultMode") else 0o644
    payload: atomic_writer.Payload = {}
    try:
        for source in v.projected.sources:
            if source.HasField("serviceAccountToken"):
                payload[source.serviceAccountToken.path] = (objects.token(source.serviceAccountToken).encode(), mode)
            elif source.HasField("downwardAPI"):
                for item in source.downwardAPI.items:
                    if item.HasField("fieldRef"):
                        value = field_ref(pod, item.fieldRef.fieldPath, pod_ip, host_ip)
                        payload[item.path] = (value.encode(), item.mode if item.HasField("mode") else mode)
            else:
                kind, src = ("ConfigMap", source.configMap) if source.HasField("configMap") else ("Secret", source.secret)
                optional = src.HasField("optional") and src.optional
                obj = objects.get(kind, src.name)
                if obj is None and not optional:
                    raise VolumeError(fail + not_found(kind, src.name))
                if obj is not None:
                    payload.update(_payload(kind, obj, src.items, mode, optional))
    except (ObjectUnavailable, EnvError, ValueError) as e:
        raise VolumeError(fail + str(e)) from None
    d = os.path.join(base, "kubernetes.io~projected", v.name)
    atomic_writer.write(d, payload)
    return d


def _claim_volume(v, objects: PodObjects) -> str:
    """A persistentVolumeClaim volume: the bound volume's hostPath or local directory on this machine."""
    fail = f'MountVolume.SetUp failed for volume "{v.name}" : '
    name = v.persistentVolumeClaim.claimName
    try:
        pvc = objects.get("PersistentVolumeClaim", name)
        pv = objects.get("PersistentVolume", pvc.spec.volumeName) if pvc is not None and pvc.spec.volumeName else None
    except ObjectUnavailable as e:
        raise VolumeError(fail + str(e)) from None
    if pvc is None:
        raise VolumeError(f'persistentvolumeclaim "{name}" not found')
    if pvc.status.phase != "Bound" or pv is None:
        raise VolumeError(f'persistentvolumeclaim "{name}" is not bound')
    path = pv.spec.hostPath.path or pv.spec.local.path
    if not path:
        raise VolumeError(fail + f"volume {pv.metadata.name} has no hostPath or local source")
    os.makedirs(path, exist_ok=True)
    return path


def setup_volumes(root: str, pod, pod_ip: str = "", host_ip: str = "",
                  objects: PodObjects | None = None) -> dict[str, str]:
    """Make every volume of `pod` ready; returns volume name -> host path. Idempotent. `objects`: the
    pod's ConfigMaps and Secrets as the server holds them now."""
    paths: dict[str, str] = {}
    base = os.path.join(pod_dir(root, pod.metadata.uid), "volumes")
    for v in pod.spec.volumes:
        if v.HasField("hostPath"):
            _check_host_path(v.name, v.hostPath.path, v.hostPath.type if v.hostPath.HasField("type") else "")
            paths[v.name] = v.hostPath.path
        elif v.HasField("downwardAPI"):
            d = os.path.join(base, "kubernetes.io~downward-api", v.name)
            os.makedirs(d, exist_ok=True)
            for item in v.downwardAPI.items:
                if not item.HasField("fieldRef"):
                    continue
                try:
                    value = field_ref(pod, item.fieldRef.fieldPath, pod_ip, host_ip)
                except EnvError as e:
                    raise VolumeError(f'MountVolume.SetUp failed for volume "{v.name}" : {e}') from None
                target = os.path.join(d, item.path)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target + ".tmp", "w") as f:
                    f.write(value)
                os.replace(target + ".tmp", target)
            paths[v.name] = d
        elif v.HasField("configMap") or v.HasField("secret"):
            paths[v.name] = _object_volume(base, v, objects or PodObjects())
        elif v.HasField("projected"):
            paths[v.name] = _projected_volume(base, v, pod, objects or PodObjects(), pod_ip, host_ip)
        elif v.HasField("persistentVolumeClaim"):
            paths[v.name] = _claim_volume(v, objects or PodObjects())
        elif v.HasField("emptyDir"):
            d = os.path.join(base, "kubernetes.io~empty-dir", v.name)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o777)          # as upstream: any container user may write
            paths[v.name] = d
        else:
            kind = next((f.name for f, _ in v.ListFields() if f.name != "name"), "unknown")
            raise VolumeError(f'MountVolume.SetUp failed for volume "{v.name}" : volume type {kind} is not '
                              "supported by minik8s (use emptyDir, hostPath, configMap, secret, downwardAPI or projected)")
    return paths


def container_mounts(container, volume_paths: dict[str, str]) -> list[Mount]:
    mounts = []
    for m in container.volumeMounts:
        host = volume_paths.get(m.name)
        if host is None:
            raise VolumeError(f'unable to find volume "{m.name}" for container "{container.name}"')
        projected = os.path.lexists(os.path.join(host, atomic_writer.DATA_DIR))
        if m.subPath:
            host = os.path.join(host, m.subPath)
            if projected:
                host = os.path.realpath(host)       # the file itself: later updates do not reach it
            elif not os.path.exists(host):
                os.makedirs(host, exist_ok=True)
        mounts.append(Mount(host_path=host, container_path=m.mountPath, read_only=m.readOnly or projected))
    return mounts


def cleanup_pod_dir(root: str, uid: str) -> None:
    """Remove the pod's directory (emptyDir contents included) once its containers are gone."""
    shutil.rmtree(pod_dir(root, uid), ignore_errors=True)
