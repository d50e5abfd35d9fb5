"""REST API figures beside gRPC's, same server, same run:

1. creates/s through the REST API (aiohttp, HTTPS, keep-alive) vs through gRPC (AsyncClient), each
   with the same number of requests in flight (target: REST >= 70% of gRPC);
2. watch delivery: how long after the last of N creates was answered one watcher has seen all N,
   REST (chunked JSON) vs gRPC;
3. `kubectl get pods` with 100 pods (wall time, median of runs) vs `minictl get pods`.

`python -m benchmarks.rest [--quick]`"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import time

from benchmarks.common import ROOT, Row, Server, log, make_pod, median, pod_template, print_table, timed_runs

SIZES = {"full": dict(creates=2000, inflight=32, watch_n=1000, get_runs=5),
         "quick": dict(creates=300, inflight=16, watch_n=200, get_runs=3)}


def _rest(srv: Server) -> tuple[str, ssl.SSLContext]:
    with open(os.path.join(srv.home, "run", "rest.port")) as f:
        url = f"https://127.0.0.1:{int(f.read())}"
    return url, ssl.create_default_context(cafile=os.path.join(srv.home, "pki", "apiserver-rest.crt"))


async def _burst(create, names: list[str], inflight: int) -> float:
    it = iter(names)

    async def worker():
        for name in it:
            await create(name)

    t = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(inflight)])
    return time.perf_counter() - t


async def creates(srv: Server, n: int, inflight: int, prefix: str) -> tuple[float, float]:
    """(REST creates/s, gRPC creates/s), alternating halves so drift hits both alike."""
    import aiohttp
    from minik8s.api import codec
    from minik8s.client.aio import AsyncClient
    template = pod_template()
    body = codec.to_dict(template)
    url, ctx = _rest(srv)
    headers = {"Authorization": f"Bearer {srv.token}", "Content-Type": "application/json"}
    rest_s = grpc_s = 0.0
    async with aiohttp.ClientSession(url, headers=headers, connector=aiohttp.TCPConnector(ssl=ctx)) as http, \
            AsyncClient(srv.address, srv.token) as client:
        async def rest_create(name):
            doc = dict(body, metadata=dict(body["metadata"], name=name))
            async with http.post("/api/v1/namespaces/default/pods", data=json.dumps(doc)) as r:
                assert r.status == 201, await r.text()
                await r.read()

        async def grpc_create(name):
            await client.create(make_pod(template, name))

        half = n // 2
        for i, (which, fn) in enumerate([("r", rest_create), ("g", grpc_create), ("g", grpc_create),
                                         ("r", rest_create)]):
            names = [f"{prefix}{which}{i}-{k}" for k in range(half // 2)]
            took = await _burst(fn, names, inflight)
            if which == "r":
                rest_s += took
            else:
                grpc_s += took
    per = 2 * (half // 2)
    return per / rest_s, per / grpc_s


async def watch_delivery(srv: Server, n: int, inflight: int) -> tuple[float, float]:
    """(REST, gRPC) seconds from the last create's reply until a watcher has seen all n creates."""
    import aiohttp
    from minik8s.client.aio import AsyncClient
    template = pod_template()
    url, ctx = _rest(srv)
    out = []
    async with AsyncClient(srv.address, srv.token) as client:
        for proto in ("rest", "grpc"):
            ns_prefix = f"w{proto}-"
            rv = (await client.list("Pod", "default")).resource_version
            seen = asyncio.Event()
            done_at = {}

            async def rest_reader():
                headers = {"Authorization": f"Bearer {srv.token}"}
                async with aiohttp.ClientSession(url, headers=headers,
                                                 connector=aiohttp.TCPConnector(ssl=ctx)) as http:
                    async with http.get("/api/v1/namespaces/default/pods",
                                        params={"watch": "1", "resourceVersion": rv}) as r:
                        count = 0
                        async for line in r.content:
                            if json.loads(line)["object"]["metadata"]["name"].startswith(ns_prefix):
                                count += 1
                                if count == n:
                                    done_at["t"] = time.perf_counter()
                                    seen.set()
                                    return

            async def grpc_reader():
                count = 0
                async for ev in client.watch("Pod", "default", resource_version=rv):
                    if ev.object.metadata.name.startswith(ns_prefix):
                        count += 1
                        if count == n:
                            done_at["t"] = time.perf_counter()
                            seen.set()
                            return

            task = asyncio.create_task(rest_reader() if proto == "rest" else grpc_reader())
            await asyncio.sleep(0.3)     # the watch registers before the writes start
            await _burst(lambda name: client.create(make_pod(template, name)),
                         [f"{ns_prefix}{k}" for k in range(n)], inflight)
            replied = time.perf_counter()
            await asyncio.wait_for(seen.wait(), 120)
            await task
            out.append(max(done_at["t"] - replied, 0.0))
    return out[0], out[1]


def get_pods(srv: Server, runs: int) -> tuple[float | None, float]:
    """(kubectl get pods, minictl get pods) median wall seconds, in namespace bench (100 pods)."""
    from minik8s.cli.kubeconfig import write_kubeconfig
    from minik8s.client.config import ClientConfig
    ClientConfig(server=srv.address, token=srv.token).save(srv.home)
    url, _ = _rest(srv)
    kc = write_kubeconfig(srv.home, "127.0.0.1", int(url.rsplit(":", 1)[1]), srv.token,
                          os.path.join(srv.home, "pki", "apiserver-rest.crt"))
    env = dict(os.environ, MINIK8S_HOME=srv.home, KUBECONFIG=kc, PYTHONPATH=ROOT)
    kubectl = shutil.which("kubectl")

    def run(argv):
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert len(out.stdout.splitlines()) == 101, out.stdout[-300:]

    k = median(timed_runs(lambda: run([kubectl, "-n", "bench", "get", "pods", "--cache-dir", os.path.join(srv.home, "kcache")]),
                          runs)) if kubectl else None
    m = median(timed_runs(lambda: run([sys.executable, "-m", "minik8s.cli.main", "-n", "bench", "get", "pods"]), runs))
    return k, m


async def seed_pods(srv: Server, n: int) -> None:
    from minik8s.api.pb import core_pb2
    from minik8s.client.aio import AsyncClient
    template = pod_template()
    async with AsyncClient(srv.address, srv.token) as client:
        await client.create(core_pb2.Namespace(apiVersion="v1", kind="Namespace", metadata={"name": "bench"}))
        for i in range(n):
            pod = make_pod(template, f"get-{i}")
            pod.metadata.namespace = "bench"
            await client.create(pod)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.rest")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    sz = SIZES["quick" if args.quick else "full"]
    log(f"load average {os.getloadavg()}")
    srv = Server()
    try:
        rest_cps, grpc_cps = asyncio.run(creates(srv, sz["creates"], sz["inflight"], "c"))
        log(f"creates/s REST {rest_cps:.0f} gRPC {grpc_cps:.0f}")
        rest_w, grpc_w = asyncio.run(watch_delivery(srv, sz["watch_n"], sz["inflight"]))
        asyncio.run(seed_pods(srv, 100))
        kubectl_s, minictl_s = get_pods(srv, sz["get_runs"])
    finally:
        srv.close()
    print_table([
        Row("creates/s over REST (vs gRPC)", rest_cps, grpc_cps, "/s", "gRPC", (">=", 0.7), relative=True),
        Row(f"watch: all {sz['watch_n']} events seen after the last reply, REST (vs gRPC)", rest_w * 1000,
            grpc_w * 1000, "ms", "gRPC", fmt="{:,.1f}"),
        Row("kubectl get pods, 100 pods (vs minictl get pods)", kubectl_s, minictl_s, "s", "minictl",
            fmt="{:,.2f}", na="" if kubectl_s is not None else "kubectl not installed"),
    ])
    print(f"load average at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
