"""`python -m kubelet.gpu_check`: what GPU discovery finds on this machine, and whether a container given
one of them by the kubelet's allocator can compute on it.

Prints one JSON document:
    discovery   the devices NVML reports (index, uuid, product, memory_mib), and the node labels and
                capacity a kubelet with `gpus: auto` would advertise
    assignment  the device the allocator hands a pod asking for `nvidia.com/gpu: 1`, and the
                environment its container gets
    cuda        when torch is importable and a device was found: a short matmul run in a subprocess
                with that environment (CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES as the process
                runtime sets them): the device torch saw, its name, the time and a checksum
Exit status 0 when discovery found nothing (nothing to check) or the computation ran on the assigned
device; 1 when a device was found but the computation failed."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

from kubelet.gpu import RESOURCE, GPUAllocator, discover_nvml, node_labels

MATMUL = r"""
import json, time, torch
assert torch.cuda.is_available(), "torch sees no CUDA device"
n = torch.cuda.device_count()
name = torch.cuda.get_device_name(0)
props = torch.cuda.get_device_properties(0)
size = int(__import__("os").environ.get("GPU_CHECK_SIZE", "4096"))
a = torch.randn(size, size, device="cuda", dtype=torch.float32)
b = torch.randn(size, size, device="cuda", dtype=torch.float32)
torch.cuda.synchronize()
t0 = time.perf_counter()
c = a @ b
torch.cuda.synchronize()
dt = time.perf_counter() - t0
print(json.dumps({"visible_devices": n, "name": name, "uuid": str(getattr(props, "uuid", "")),
                  "size": size, "seconds": dt, "tflops": 2 * size ** 3 / dt / 1e12,
                  "checksum": float(c.float().sum().item())}))
"""


def _pod(uid: str = "gpu-check"):
    from minik8s.api.pb import core_pb2
    p = core_pb2.Pod()
    p.metadata.uid, p.metadata.name = uid, "gpu-check"
    c = p.spec.containers.add()
    c.name = "cuda"
    c.resources.limits[RESOURCE] = "1"
    return p


def check(size: int = 4096, timeout: float = 300.0) -> tuple[dict, int]:
    devices = discover_nvml()
    out: dict = {"discovery": {"devices": [d.to_dict() for d in devices], "labels": node_labels(devices),
                               "capacity": {RESOURCE: str(len(devices))} if devices else {}}}
    if not devices:
        out["note"] = "no GPU found through NVML (no nvidia-ml-py, no driver, or no device)"
        return out, 0
    alloc = GPUAllocator(devices)
    assigned = alloc.admit(_pod())["cuda"]
    env = alloc.env(assigned)
    out["assignment"] = {"container": "cuda", "devices": assigned, "env": env}
    if importlib.util.find_spec("torch") is None:
        out["cuda"] = {"skipped": "torch is not importable"}
        return out, 0
    proc = subprocess.run([sys.executable, "-c", MATMUL], env={**os.environ, **env, "GPU_CHECK_SIZE": str(size)},
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        out["cuda"] = {"ok": False, "exit_code": proc.returncode, "stderr": proc.stderr[-4000:]}
        return out, 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # the container must have seen exactly its own device
    want = next(d for d in devices if d.uuid == assigned[0])
    result["ok"] = result["visible_devices"] == 1 and (not result["uuid"] or
                                                      want.uuid.endswith(result["uuid"].replace("GPU-", "")))
    out["cuda"] = result
    return out, 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kubelet.gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=4096, help="matrix size for the matmul (default 4096)")
    args = p.parse_args(argv)
    out, code = check(args.size)
    print(json.dumps(out, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
