"""The dashboard's figures, against a real API server and `python -m minik8s.dashboard` in headless
Chromium (Debian's, through Selenium), in one run:

1. latency: a pod created through the API, until the page has drawn it (a MutationObserver stamps the
   first element for it), p50 and p99 over N changes, beside the same pods' watch delivery (a gRPC watch
   in this process, from the same send time) as the baseline: the target is within 100 ms of it;
2. scale: with `--nodes`/`--pods` Node and bound Pod objects (no kubelets: a snapshot to draw, not a
   cluster to run), the time until the page has drawn them all, and then the page's memory (the
   renderer's JS heap, and the resident memory of every Chromium process) after `--churn` further
   changes (target: under 300 MB).

`python -m benchmarks.dashboard [--quick] [--changes N] [--nodes N --pods N --churn N]`"""
from __future__ import annotations

import argparse
import asyncio
import os
import select
import shutil
import subprocess
import sys
import time

from benchmarks.common import ROOT, Row, Server, log, make_pod, percentile, pod_template, print_table

SIZES = {"full": dict(changes=100, nodes=1000, pods=10000, churn=1000),
         "quick": dict(changes=100, nodes=100, pods=1000, churn=100)}
PACE_S = 0.05           # between two changes: latency, not throughput
NS = "bench"

# first time each pod of the namespace appears in the page, in ms since the epoch (the page's clock
# and this process's are the same machine's)
OBSERVER = """
window.drawnAt = {};
new MutationObserver((records) => {
  const now = Date.now();
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType !== 1) continue;
    const found = n.matches('[data-pod]') ? [n] : [...n.querySelectorAll('[data-pod]')];
    for (const e of found) if (!(e.dataset.pod in window.drawnAt)) window.drawnAt[e.dataset.pod] = now;
  }
}).observe(document.body, {childList: true, subtree: true});
"""


def start_dashboard(srv: Server) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, MINIK8S_TOKEN=srv.token, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "minik8s.dashboard", "--server", srv.address, "--port", "0",
                             "--home", os.path.join(srv.home, "no-config")],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()
            if line.startswith("Dashboard at "):
                return proc, line.split()[2]
    proc.kill()
    raise RuntimeError(f"the dashboard did not start (exit {proc.poll()})")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def wait_page(driver, script: str, timeout: float):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(f"return {script};"))


async def latency(srv: Server, driver, n: int) -> tuple[list[float], list[float]]:
    """(page, watch) latencies in ms of n pod creates, each from the moment before its create call."""
    from minik8s.api.pb import core_pb2
    from minik8s.client.aio import AsyncClient
    template = pod_template()
    sent, watched = {}, {}
    async with AsyncClient(srv.address, srv.token) as client:
        await client.create(core_pb2.Namespace(apiVersion="v1", kind="Namespace", metadata={"name": NS}))
        rv = (await client.list("Pod", NS)).resource_version

        async def watch():
            async for ev in client.watch("Pod", NS, rv):
                if ev.type == "ADDED":
                    watched.setdefault(ev.object.metadata.name, time.time())
                    if len(watched) == n:
                        return
        watcher = asyncio.create_task(watch())
        for i in range(n):
            pod = make_pod(template, f"p-{i}")
            pod.metadata.namespace = NS
            sent[pod.metadata.name] = time.time()
            await client.create(pod)
            await asyncio.sleep(PACE_S)
        await asyncio.wait_for(watcher, 30)
    drawn = wait_page(driver, f"Object.keys(window.drawnAt).filter((k) => k.startsWith('{NS}/')).length >= {n} "
                              f"&& window.drawnAt", 30)
    page = [drawn[f"{NS}/{name}"] - t * 1000 for name, t in sent.items()]
    return page, [(watched[name] - t) * 1000 for name, t in sent.items()]


async def populate(srv: Server, nodes: int, pods: int) -> float:
    """Create the Nodes and Pods bound to them; returns when the last create was answered."""
    from minik8s.api import codec
    from minik8s.api.pb import core_pb2
    from minik8s.client.aio import AsyncClient
    template = pod_template()
    sem = asyncio.Semaphore(32)
    async with AsyncClient(srv.address, srv.token) as client:
        async def create(obj):
            async with sem:
                await client.create(obj)
        await asyncio.gather(*(create(codec.from_dict(core_pb2.Node, {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n-{i}"},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}})) for i in range(nodes)))
        bound = []
        for i in range(pods):
            pod = make_pod(template, f"s-{i}")
            pod.metadata.namespace = NS
            pod.spec.nodeName = f"n-{i % nodes}"
            bound.append(create(pod))
        await asyncio.gather(*bound)
    return time.time()


async def churn(srv: Server, pods: int, changes: int) -> None:
    """Relabel pods one after another: changes the page receives (and mostly need not redraw)."""
    from minik8s.client.aio import AsyncClient
    async with AsyncClient(srv.address, srv.token) as client:
        for i in range(changes):
            await client.patch("Pod", f"s-{i % pods}", {"metadata": {"labels": {"churn": str(i)}}}, NS)


def page_memory(driver) -> tuple[float, float, float]:
    """In MB: the page's JS heap; the memory of its renderer processes alone (unique set size: what
    closing the page would give back); and of every Chromium process (proportional set size, so the
    memory they share counts once)."""
    import psutil
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    driver.execute_cdp_cmd("Performance.enable", {})
    metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    procs = psutil.Process(driver.service.process.pid).children(recursive=True)
    info = {p: p.memory_full_info() for p in procs}
    renderers = sum(m.uss for p, m in info.items() if "--type=renderer" in " ".join(p.cmdline()))
    return metrics["JSHeapUsedSize"] / 2**20, renderers / 2**20, sum(m.pss for m in info.values()) / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.dashboard")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--changes", type=int)
    p.add_argument("--nodes", type=int)
    p.add_argument("--pods", type=int)
    p.add_argument("--churn", type=int)
    args = p.parse_args(argv)
    sz = dict(SIZES["quick" if args.quick else "full"])
    sz.update({k: v for k, v in vars(args).items() if k in sz and v is not None})
    log(f"load average {os.getloadavg()}; {sz}")
    srv = Server()
    dash, url = start_dashboard(srv)
    driver = browser()
    try:
        driver.get(url)
        wait_page(driver, "document.getElementById('status').textContent === 'live'", 30)
        driver.execute_script(OBSERVER)
        page, watch = asyncio.run(latency(srv, driver, sz["changes"]))
        log(f"latency: page p50 {percentile(page, 50):.1f} ms, watch p50 {percentile(watch, 50):.1f} ms")
        done = asyncio.run(populate(srv, sz["nodes"], sz["pods"]))
        drawn = wait_page(driver, f"document.querySelectorAll('#nodes [data-node]').length >= {sz['nodes']} && "
                                  f"document.querySelectorAll('#nodes .pod').length >= {sz['pods']} && Date.now()", 600)
        asyncio.run(churn(srv, sz["pods"], sz["churn"]))
        heap, renderer, chromium = page_memory(driver)
    finally:
        driver.quit()
        dash.terminate()
        dash.wait(10)
        srv.close()
    n = sz["changes"]
    print_table([
        Row(f"pod created -> drawn on the page, p50 of {n} (vs watch delivery)", percentile(page, 50),
            percentile(watch, 50), "ms", "watch", ("<=", percentile(watch, 50) + 100)),
        Row(f"pod created -> drawn on the page, p99 of {n} (vs watch delivery)", percentile(page, 99),
            percentile(watch, 99), "ms", "watch", ("<=", percentile(watch, 99) + 100)),
        Row(f"{sz['nodes']} nodes and {sz['pods']} pods created -> all drawn, after the last create", drawn / 1000 - done,
            None, "s", fmt="{:,.2f}"),
        Row(f"page memory after {sz['churn']} more changes: its renderer (unique set size)", renderer, None, "MB",
            target=("<=", 300.0)),
        Row("  of which the page's JS heap", heap, None, "MB"),
        Row("  all Chromium processes (proportional set size), for scale", chromium, None, "MB"),
    ])
    print(f"load average at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
