"""Pod volumes on the node: `emptyDir` (a directory under the pod's own directory, shared by its
containers and removed with the pod), `hostPath` (a host path, checked against its `type` as upstream
does) and `downwardAPI` (files holding the pod's fields). Each container's `volumeMounts` become
runtime Mounts, `subPath` included."""
from __future__ import annotations

import os
import shutil
import stat

from kubelet.paths import pod_dir
from kubelet.env import EnvError, field_ref
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


def setup_volumes(root: str, pod, pod_ip: str = "", host_ip: str = "") -> dict[str, str]:
    """Make every volume of `pod` ready; returns volume name -> host path. Idempotent."""
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
        elif v.HasField("emptyDir"):
            d = os.path.join(base, "kubernetes.io~empty-dir", v.name)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o777)          # as upstream: any container user may write
            paths[v.name] = d
        else:
            kind = next((f.name for f, _ in v.ListFields() if f.name != "name"), "unknown")
            raise VolumeError(f'MountVolume.SetUp failed for volume "{v.name}" : volume type {kind} is not '
                              "supported by minik8s (use emptyDir or hostPath)")
    return paths


def container_mounts(container, volume_paths: dict[str, str]) -> list[Mount]:
    mounts = []
    for m in container.volumeMounts:
        host = volume_paths.get(m.name)
        if host is None:
            raise VolumeError(f'unable to find volume "{m.name}" for container "{container.name}"')
        if m.subPath:
            host = os.path.join(host, m.subPath)
            if not os.path.exists(host):
                os.makedirs(host, exist_ok=True)
        mounts.append(Mount(host_path=host, container_path=m.mountPath, read_only=m.readOnly))
    return mounts


def cleanup_pod_dir(root: str, uid: str) -> None:
    """Remove the pod's directory (emptyDir contents included) once its containers are gone."""
    shutil.rmtree(pod_dir(root, uid), ignore_errors=True)
