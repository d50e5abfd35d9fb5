"""GPUs on a node: discovery, advertisement and whole-device assignment (upstream: the NVIDIA device
plugin, GPU feature discovery and the kubelet's device manager, in one small module).

Discovery asks NVML (nvidia-ml-py) for the real devices: index, UUID, product name and memory; no
library or no driver means no GPUs. A node may instead declare fake GPUs (`gpus: N` in the cluster
file), which behave the same way with made-up UUIDs, so GPU scheduling can be learned on a laptop.

The node advertises `nvidia.com/gpu` in capacity and allocatable and GFD's labels
`nvidia.com/gpu.product`, `nvidia.com/gpu.count`, `nvidia.com/gpu.memory` (MiB). `nvidia.com/gpu` is an
integer limit; on admission the kubelet assigns whole devices to each container that asks, never a
device held by another pod (init containers' devices may be reused by the same pod's app containers,
as upstream). The assignment is written on the container as a label, so a restarted kubelet reads it
back from the runtime. Containers see their devices through NVIDIA_VISIBLE_DEVICES and
CUDA_VISIBLE_DEVICES; a container that asked for none gets `void` and an empty list; real devices are
also passed to the runtime (Docker: a DeviceRequest)."""
from __future__ import annotations

import uuid as uuidlib
from dataclasses import asdict, dataclass

RESOURCE = "nvidia.com/gpu"
LABEL_DEVICES = "minik8s.io/gpu-devices"       # on containers: the UUIDs assigned to them
FAKE_PRODUCT = "NVIDIA-Fake-GPU"
FAKE_MEMORY_MIB = 16384


@dataclass(frozen=True)
class GPUDevice:
    index: int
    uuid: str
    product: str
    memory_mib: int
    fake: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class AdmissionError(Exception):
    reason = "UnexpectedAdmissionError"


def _label_value(name: str) -> str:
    # GFD's product label: spaces become dashes ("NVIDIA H200" -> "NVIDIA-H200")
    out = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name.strip())
    return out.strip("-_.")[:63] or "unknown"


def discover_nvml() -> list[GPUDevice]:
    """The real GPUs NVML reports; [] when nvidia-ml-py, the library or the driver is missing."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:
        return []
    devices = []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            uid = pynvml.nvmlDeviceGetUUID(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h).total
            name = name.decode() if isinstance(name, bytes) else name
            uid = uid.decode() if isinstance(uid, bytes) else uid
            devices.append(GPUDevice(i, uid, _label_value(name), int(mem) // (1024 * 1024)))
    except Exception:
        return devices
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return devices


def fake_devices(node: str, count: int, product: str = FAKE_PRODUCT,
                 memory_mib: int = FAKE_MEMORY_MIB) -> list[GPUDevice]:
    """`count` made-up GPUs with stable, node-specific UUIDs shaped like NVIDIA's."""
    return [GPUDevice(i, "GPU-" + str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"minik8s/{node}/gpu/{i}")),
                      _label_value(product), int(memory_mib), True) for i in range(count)]


def discover(node: str, spec) -> list[GPUDevice]:
    """`spec` from the node's config: None/0 (none), "auto" (NVML), N (N fake GPUs) or a mapping
    {count, product, memory} for fake GPUs described more closely."""
    if spec in (None, 0, False, "none", ""):
        return []
    if spec == "auto":
        return discover_nvml()
    if isinstance(spec, dict):
        if spec.get("count") == "auto":
            return discover_nvml()
        return fake_devices(node, int(spec.get("count", 0)), spec.get("product", FAKE_PRODUCT),
                            _memory_mib(spec.get("memory", FAKE_MEMORY_MIB)))
    return fake_devices(node, int(spec))


def _memory_mib(v) -> int:
    if isinstance(v, int):
        return v
    from minik8s.api.quantity import bytes_value
    text = str(v)
    return int(text) if text.isdigit() else bytes_value(text) // (1024 * 1024)


def node_labels(devices: list[GPUDevice]) -> dict[str, str]:
    if not devices:
        return {}
    return {"nvidia.com/gpu.product": devices[0].product, "nvidia.com/gpu.count": str(len(devices)),
            "nvidia.com/gpu.memory": str(devices[0].memory_mib)}


def requested(container) -> int:
    """Whole GPUs a container asks for (its limit; requests default to and must equal it)."""
    value = container.resources.limits.get(RESOURCE) or container.resources.requests.get(RESOURCE)
    if not value:
        return 0
    from minik8s.api.quantity import parse_quantity
    return parse_quantity(value).value()


class GPUAllocator:
    """Which pod container holds which device. A pod's assignment is made once, at admission."""

    def __init__(self, devices: list[GPUDevice]):
        self.devices = devices
        self._by_uuid = {d.uuid: d for d in devices}
        self.assigned: dict[str, dict[str, list[str]]] = {}     # pod uid -> container -> uuids

    def held_by_others(self, uid: str) -> set[str]:
        return {u for pod, conts in self.assigned.items() if pod != uid for us in conts.values() for u in us}

    def admit(self, pod) -> dict[str, list[str]]:
        """Assign devices to every container of `pod` that asks; AdmissionError when they are not there."""
        uid = pod.metadata.uid
        if uid in self.assigned:
            return self.assigned[uid]
        wants = [(c.name, requested(c), True) for c in pod.spec.initContainers] + \
                [(c.name, requested(c), False) for c in pod.spec.containers]
        if not any(n for _, n, _ in wants):
            return {}
        free = [d.uuid for d in self.devices if d.uuid not in self.held_by_others(uid)]
        out: dict[str, list[str]] = {}
        regular_taken: set[str] = set()
        for name, n, is_init in wants:
            if n <= 0:
                continue
            pool = free if is_init else [u for u in free if u not in regular_taken]
            if len(pool) < n:
                raise AdmissionError(f"Allocate failed due to requested number of devices unavailable for "
                                     f"{RESOURCE}. Requested: {n}, Available: {len(pool)}, which is unexpected")
            out[name] = pool[:n]
            if not is_init:
                regular_taken.update(pool[:n])
        self.assigned[uid] = out
        return out

    def devices_of(self, uid: str, container: str) -> list[str]:
        return list(self.assigned.get(uid, {}).get(container, []))

    def release(self, uid: str) -> None:
        self.assigned.pop(uid, None)

    def restore(self, uid: str, container: str, label: str) -> None:
        """Take back an assignment found on a container's label after a kubelet restart."""
        uuids = [u for u in label.split(",") if u in self._by_uuid]
        if uuids:
            self.assigned.setdefault(uid, {})[container] = uuids

    def is_fake(self, uuid: str) -> bool:
        d = self._by_uuid.get(uuid)
        return d is None or d.fake

    def env(self, uuids: list[str]) -> dict[str, str]:
        if not self.devices:
            return {}
        if not uuids:
            return {"NVIDIA_VISIBLE_DEVICES": "void", "CUDA_VISIBLE_DEVICES": ""}
        joined = ",".join(uuids)
        return {"NVIDIA_VISIBLE_DEVICES": joined, "CUDA_VISIBLE_DEVICES": joined}

    def runtime_devices(self, uuids: list[str]) -> list[str]:
        """What the runtime passes through: real devices only (fake ones exist as env alone)."""
        return [u for u in uuids if not self.is_fake(u)]
