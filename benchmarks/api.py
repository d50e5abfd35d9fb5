"""API server benchmarks, each figure beside a baseline measured in the same run.

    .venv/bin/python -m benchmarks.api [--quick] [--only 1,3] [--profile DIR]

1. create throughput (durable, group-committed) vs a bare grpc.aio echo server and bare SQLite commits
2. watch delivery latency with 100 watchers at 1,000 writes/s vs the create reply's own latency
3. List of 10,000 pods (latency, server RSS) vs raw List bytes, raw data size and an empty server's RSS
4. `minictl get pods` wall time vs `python -c pass`
5. create and get latency as a component allowed by RBAC vs the same with authorization off
   (`--authorization-mode=AlwaysAllow`), two servers side by side, rounds alternating between them
6. watch fan-out under load: the sustained create rate with 100 watchers vs with none, and the watch
   delivery latency at half that rate

Every server (API server, echo server) is its own subprocess on 127.0.0.1. The load generator for 1, 3
and 4 is this process (one asyncio loop; sync Client for List); for 2 the paced writer is this
process and the watchers live in --watch-procs subprocesses (`--role watchers`). See README.md."""
from __future__ import annotations

import argparse
import array
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.common import (ANNOTATION, ROOT, EchoServer, Profiler, Row, Server, log, make_pod, median,
                               percentile, pod_template, print_table, timed_runs)

SIZES = {
    "full": dict(creates=5000, inflight=64, warmup=300, create_chunks=6, batch_probe=2000,
                 sqlite_rows=5000, sqlite_secs=5.0,
                 watchers=100, watch_procs=2, watch_rate=1000, watch_secs=5.0,
                 list_pods=10_000, list_reps=5, ctl_pods=100, ctl_runs=10, fanout_creates=3000),
    "quick": dict(creates=400, inflight=64, warmup=50, create_chunks=2, batch_probe=200,
                  sqlite_rows=300, sqlite_secs=1.0,
                  watchers=10, watch_procs=1, watch_rate=200, watch_secs=1.0,
                  list_pods=1000, list_reps=3, ctl_pods=20, ctl_runs=3, authz_ops=200, fanout_creates=300),
}
PHASE_LIMIT_S = 180.0       # no single loop of a measure runs longer than this
MB = 1024 * 1024


# ================================================================ 1. create throughput
async def drive_creates(address: str, token: str, template, n: int, inflight: int, prefix: str) -> dict:
    """`n` creates through one AsyncClient with `inflight` requests outstanding at all times."""
    from minik8s.client.aio import AsyncClient
    async with AsyncClient(address, token) as client:
        done, secs, last = await _burst(client, template, [f"{prefix}{i:06d}" for i in range(n)], inflight)
    return {"done": done, "elapsed": secs, "last": last, "rate": done / secs}


async def observe_batches(address: str, token: str, template, n: int, inflight: int, from_rv: str) -> list[int]:
    """Events per watch message while `n` more creates run: the registry publishes a committed batch at
    once and the watch stream drains its queue into one message, so this is the group-commit batch
    size (an over-estimate only if the stream fell behind and merged batches)."""
    import grpc
    from minik8s.api.pb import api_pb2
    sizes: list[int] = []
    channel = grpc.aio.insecure_channel(address)
    watch = channel.unary_stream("/minik8s.api.API/Watch",
                                 request_serializer=api_pb2.WatchRequest.SerializeToString,
                                 response_deserializer=api_pb2.WatchResponse.FromString)
    call = watch(api_pb2.WatchRequest(kind="Pod", resourceVersion=from_rv),
                 metadata=(("authorization", f"Bearer {token}"),))

    async def reader():
        async for resp in call:
            sizes.append(len(resp.events))
            if sum(sizes) >= n:
                return

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.3)   # let the watch register before the writes start
    await drive_creates(address, token, template, n, inflight, "probe-")
    try:
        await asyncio.wait_for(task, 10)
    except asyncio.TimeoutError:
        pass
    call.cancel()
    await channel.close()
    return sizes


def sqlite_commit_rate(directory: str, raw: bytes, batch: int, max_rows: int,
                       max_secs: float) -> tuple[float, list[float]]:
    """Bare SQLite on the same filesystem as the server: WAL, synchronous=FULL, `batch` INSERTs per
    COMMIT. Returns (rows/s, seconds per commit)."""
    path = os.path.join(directory, f"bare-{batch}-{time.monotonic_ns()}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, "
               "rv INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (kind, namespace, name))")
    n = 0
    commits = []
    t = time.perf_counter()
    while n < max_rows and time.perf_counter() - t < max_secs:
        c = time.perf_counter()
        db.execute("BEGIN")
        for _ in range(batch):
            n += 1
            db.execute("INSERT INTO objects VALUES (?,?,?,?,?)", ("Pod", "default", f"p-{n:07d}", n, raw))
        db.execute("COMMIT")
        commits.append(time.perf_counter() - c)
    elapsed = time.perf_counter() - t
    db.close()
    return n / elapsed, commits


def _thread_cpu(pid: int) -> tuple[float, float]:
    """(main thread, all threads) CPU seconds of a process."""
    import psutil
    threads = psutil.Process(pid).threads()
    main = sum(t.user_time + t.system_time for t in threads if t.id == pid)
    return main, sum(t.user_time + t.system_time for t in threads)


async def _burst(client, template, names: list[str], inflight: int) -> tuple[int, float, object]:
    """Create every pod in `names` with `inflight` requests outstanding; (done, seconds, last reply)."""
    it = iter(names)
    state = {"done": 0, "last": None}
    deadline = time.monotonic() + PHASE_LIMIT_S

    async def worker():
        for name in it:
            if time.monotonic() > deadline:
                return
            state["last"] = await client.create(make_pod(template, name))
            state["done"] += 1

    t = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(inflight)])
    return state["done"], time.perf_counter() - t, state["last"]


async def _alternate(srv, sz: dict, template, profile: str | None) -> dict:
    """Chunks of creates against the API server and the echo server, alternating (ABBA order), so
    that load from anything else on the machine falls on both alike."""
    from minik8s.api.pb import api_pb2
    from minik8s.client.aio import AsyncClient
    n, inflight, chunks = sz["creates"], sz["inflight"], sz["create_chunks"]
    per = n // chunks
    out = {"minik8s": [], "echo": []}
    async with AsyncClient(srv.address, srv.token) as mc:
        _, _, last = await _burst(mc, template, [f"warm-{i}" for i in range(sz["warmup"])], inflight)
        reply = api_pb2.ObjectResponse(kind="Pod", object=last.SerializeToString()).SerializeToString()
        out["reply_size"] = len(reply)
        echo = EchoServer(reply)
        try:
            async with AsyncClient(echo.address, echo.token) as ec:
                await _burst(ec, template, [f"warm-{i}" for i in range(sz["warmup"])], inflight)
                targets = {"minik8s": (mc, srv.pid), "echo": (ec, echo.pid)}
                prof = Profiler(profile, "1-creates", srv.pid)
                for k in range(chunks):
                    for which in (("minik8s", "echo") if k % 2 == 0 else ("echo", "minik8s")):
                        client, pid = targets[which]
                        main0, all0 = _thread_cpu(pid)
                        me0 = time.process_time()
                        done, secs, last = await _burst(client, template,
                                                        [f"bench-{k}-{i:05d}" for i in range(per)], inflight)
                        main1, all1 = _thread_cpu(pid)
                        out[which].append({"done": done, "secs": secs, "main": main1 - main0, "all": all1 - all0,
                                           "client": time.process_time() - me0})
                        if which == "minik8s":
                            out["last"] = last
                prof.stop()
        finally:
            echo.close()
    return out


def measure_creates(sz: dict, profile: str | None) -> list[Row]:
    template = pod_template()
    n, inflight, chunks = sz["creates"], sz["inflight"], sz["create_chunks"]
    log(f"1. {n} creates, {inflight} in flight, in {chunks} chunks alternating with the echo server")
    with Server() as srv:
        res = asyncio.run(_alternate(srv, sz, template, profile))
        for which in ("minik8s", "echo"):
            log(f"   {which}: " + ", ".join(f"{c['done'] / c['secs']:,.0f}" for c in res[which]) + " per s")
        last = res["last"]
        log(f"   probing the commit batch size with {sz['batch_probe']} more creates")
        sizes = asyncio.run(observe_batches(srv.address, srv.token, template, sz["batch_probe"], inflight,
                                            last.metadata.resourceVersion))
        batch = sum(sizes) / len(sizes) if sizes else float("nan")
        b = max(1, round(batch)) if batch == batch else inflight
        raw = last.SerializeToString()
        log("   bare SQLite commits on the same filesystem")
        sql1, _ = sqlite_commit_rate(srv.home, raw, 1, sz["sqlite_rows"], sz["sqlite_secs"])
        sqlb, _ = sqlite_commit_rate(srv.home, raw, b, sz["sqlite_rows"] * 4, sz["sqlite_secs"])

    def rate(which):
        return median([c["done"] / c["secs"] for c in res[which]])

    def per_call(which, key):
        return sum(c[key] for c in res[which]) / sum(c["done"] for c in res[which]) * 1e6

    m, e = "minik8s", "echo"
    of = f" (median of {chunks} alternating chunks)" if chunks > 1 else ""
    return [
        Row(f"creates/s, {n} pods, {inflight} in flight{of}", rate(m), rate(e), "/s", "bare grpc.aio echo",
            target=(">=", 0.70), relative=True, fmt="{:,.0f}"),
        Row("creates/s vs bare SQLite, 1 row per commit", rate(m), sql1, "/s", "SQLite WAL, sync=FULL",
            fmt="{:,.0f}", note="info: storage limit, no group commit"),
        Row(f"creates/s vs bare SQLite, {b} rows per commit", rate(m), sqlb, "/s", "SQLite WAL, sync=FULL",
            fmt="{:,.0f}", note="info: storage limit at the server's batch size"),
        Row("server commit batch size (events per watch message)", batch, float(inflight), "",
            "requests in flight", fmt="{:,.1f}", note=f"info: {len(sizes)} batches seen"),
        Row("server main-thread CPU per create", per_call(m, "main"), per_call(e, "main"), "us",
            "echo server, per call", fmt="{:,.0f}", note="info: the GIL-bound part"),
        Row("server CPU per create, all threads", per_call(m, "all"), per_call(e, "all"), "us",
            "echo server, per call", fmt="{:,.0f}", note="info"),
        Row("load-generator CPU per create (this process)", per_call(m, "client"), per_call(e, "client"), "us",
            "same client vs echo", fmt="{:,.0f}", note="info"),
    ]


# ================================================================ 2. watch latency
async def watcher_role(args) -> int:
    """Subprocess: `count` AsyncClient watch streams on pods; per event, receive time minus the send
    time stamped in the annotation. Prints `started`, `ready` (every stream has seen a warm-up pod)
    and `done {json}`; writes latencies (float64 seconds) to --out."""
    from minik8s.client import transport
    from minik8s.client.aio import AsyncClient
    token = os.environ["BENCH_TOKEN"]
    n, expect = args.count, args.expect
    decode, sizes = transport.decode_events, {"messages": 0, "events": 0}

    def counted(resp):      # the client decodes each watch message once: count messages and events
        evs = list(decode(resp))
        sizes["messages"] += 1
        sizes["events"] += len(evs)
        return evs
    transport.decode_events = counted
    mine = args.run + "-"
    clients = [AsyncClient(args.address, token) for _ in range(n)]
    lats = [array.array("d") for _ in range(n)]
    warm = [asyncio.Event() for _ in range(n)]
    ended = ["running"] * n

    async def one(i: int):
        lat, seen = lats[i], warm[i]
        try:
            async for ev in clients[i].watch("pods"):
                now = time.monotonic()
                if not ev.object.metadata.name.startswith(mine):
                    continue        # an earlier run's pod, in the watch's initial list
                sent = ev.object.metadata.annotations.get(ANNOTATION)
                if not sent:
                    seen.set()
                    continue
                lat.append(now - float(sent))
                if len(lat) >= expect:
                    ended[i] = "complete"
                    return
            ended[i] = "stream ended by server"
        except asyncio.CancelledError:
            ended[i] = "stopped"
            raise
        except Exception as e:  # report, don't hide: the orchestrator prints it
            ended[i] = f"error: {e!r}"[:200]

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    print("started", flush=True)
    try:
        await asyncio.wait_for(asyncio.gather(*[w.wait() for w in warm]), args.ready_timeout)
        print("ready", flush=True)
    except asyncio.TimeoutError:
        print("notready", flush=True)
    loop = asyncio.get_running_loop()
    stop, eof = asyncio.Event(), asyncio.Event()

    def stdin_reader():     # a line: stop now; end of input: exit (after the CPU snapshot)
        for _ in sys.stdin:
            loop.call_soon_threadsafe(stop.set)
        loop.call_soon_threadsafe(stop.set)
        loop.call_soon_threadsafe(eof.set)

    threading.Thread(target=stdin_reader, daemon=True).start()
    all_done = asyncio.ensure_future(asyncio.gather(*tasks, return_exceptions=True))
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([all_done, stopper], timeout=args.deadline, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    out = array.array("d")
    for lat in lats:
        out.extend(lat)
    with open(args.out, "wb") as f:
        out.tofile(f)
    counts: dict[str, int] = {}
    for e in ended:
        counts[e] = counts.get(e, 0) + 1
    for c in clients:
        await c.close()
    print("done " + json.dumps({"received": len(out), "ended": counts, **sizes}), flush=True)
    try:
        await asyncio.wait_for(eof.wait(), 60)
    except asyncio.TimeoutError:
        pass
    return 0


def _cpu_snapshot(server_pid: int, watcher_pids: list[int]) -> dict:
    """CPU seconds so far: the server's main thread, its other threads, the watcher processes, this
    process (the paced writer)."""
    import psutil
    threads = psutil.Process(server_pid).threads()
    main = sum(t.user_time + t.system_time for t in threads if t.id == server_pid)
    rest = sum(t.user_time + t.system_time for t in threads if t.id != server_pid)
    watchers = 0.0
    for pid in watcher_pids:
        ct = psutil.Process(pid).cpu_times()
        watchers += ct.user + ct.system
    me = psutil.Process().cpu_times()
    return {"server main thread": main, "server other threads": rest, "watcher processes": watchers,
            "writer (this process)": me.user + me.system,
            "server main thread, runnable but waiting for a CPU": _runqueue_wait([server_pid], main_thread_only=True)}


def _cpu_delta(a: dict, b: dict, wall: float) -> dict:
    """Cores used over the window, per participant."""
    return {k: (b[k] - a[k]) / wall for k in a}


def _runqueue_wait(pids: list[int], main_thread_only: bool = False) -> float:
    """Seconds the threads of `pids` spent runnable but waiting for a CPU (/proc/*/schedstat, field 2):
    on a 2-core machine, how much the processes of a measure slow each other down."""
    total = 0
    for pid in pids:
        tids = [pid] if main_thread_only else os.listdir(f"/proc/{pid}/task")
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return total / 1e9


async def _paced_watch(address: str, token: str, server_pid: int, sz: dict, outdir: str) -> dict:
    """Watcher subprocesses on `address`, then a paced writer in this process (watch_rate 0: an
    unpaced one, `fanout_creates` writes with `inflight` outstanding). Returns reply latencies, watch
    latencies, CPU use and the watchers' summaries."""
    from minik8s.client.aio import AsyncClient
    template = pod_template()
    rate, secs = sz["watch_rate"], sz["watch_secs"]
    total = int(rate * secs) if rate else sz["fanout_creates"]
    run = sz.get("run", "w")      # names of this run's pods, unique on a server used twice
    nproc = max(1, min(sz["watch_procs"], sz["watchers"]))
    per = [sz["watchers"] // nproc + (1 if i < sz["watchers"] % nproc else 0) for i in range(nproc)]
    env = dict(os.environ, BENCH_TOKEN=token, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    files = [os.path.join(outdir, f"lat-{i}-{time.monotonic_ns()}.bin") for i in range(nproc)]
    procs = []
    for k, path in zip(per, files):
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.api", "--role", "watchers", "--address", address,
            "--count", str(k), "--expect", str(total), "--out", path, "--run", run,
            "--deadline", str(secs * 4 + 30), "--ready-timeout", "60",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env=env))

    async def expect_line(p, word: str, timeout: float) -> str:
        line = (await asyncio.wait_for(p.stdout.readline(), timeout)).decode().strip()
        if not line.startswith(word):
            raise RuntimeError(f"watcher process said {line!r}, expected {word!r}")
        return line

    try:
        for p in procs:
            await expect_line(p, "started", 60)
        out = {"reply": array.array("d"), "sent": 0}
        async with AsyncClient(address, token) as client:
            # warm-up pods (no timestamp) until every stream in every process has seen one
            ready = [asyncio.create_task(expect_line(p, "ready", 70)) for p in procs]
            j = 0
            while not all(t.done() for t in ready):
                out["last"] = await client.create(make_pod(template, f"{run}-warm-{j}"))
                j += 1
                await asyncio.sleep(0.05)
            for t in ready:
                t.result()
            await asyncio.sleep(0.2)
            log(f"   {sum(per)} watchers ready in {nproc} process(es); writing {total} pods at {rate}/s")
            inflight: set[asyncio.Task] = set()
            reply = out["reply"]

            async def send(i: int):
                sent = time.monotonic()
                await client.create(make_pod(template, f"{run}-{i:06d}", sent))
                reply.append(time.monotonic() - sent)

            cpu_start = _cpu_snapshot(server_pid, [p.pid for p in procs])
            wall_start = time.monotonic()
            t0 = time.monotonic() + 0.01
            i = 0
            if not rate:        # unpaced: as fast as `inflight` outstanding writes allow
                it = iter(range(total))

                async def worker():
                    for j in it:
                        await send(j)

                await asyncio.gather(*[worker() for _ in range(sz["inflight"])])
                i = total
            while i < total and time.monotonic() - t0 < secs * 3:
                now = time.monotonic()
                while i < total and t0 + i / rate <= now:
                    if len(inflight) >= 1000:       # bounded: never more than 1,000 writes outstanding
                        break
                    task = asyncio.create_task(send(i))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                    i += 1
                if len(inflight) >= 1000:
                    await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                elif i < total:
                    await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            out["send_secs"] = time.monotonic() - t0
            out["sent"] = i
            if inflight:
                await asyncio.wait(inflight, timeout=60)
        log(f"   sent {i} in {out['send_secs']:.2f}s; waiting for watchers")
        summaries = []
        for p in procs:
            try:
                summaries.append(json.loads((await expect_line(p, "done", 10)).split(" ", 1)[1]))
            except asyncio.TimeoutError:
                p.stdin.write(b"stop\n")
                await p.stdin.drain()
                summaries.append(json.loads((await expect_line(p, "done", 30)).split(" ", 1)[1]))
        out["cpu"] = _cpu_delta(cpu_start, _cpu_snapshot(server_pid, [p.pid for p in procs]),
                                time.monotonic() - wall_start)
        for p in procs:
            p.stdin.close()
            await asyncio.wait_for(p.wait(), 30)
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    out["summaries"] = summaries
    lats = array.array("d")
    for path in files:
        a = array.array("d")
        with open(path, "rb") as f:
            a.frombytes(f.read())
        os.unlink(path)
        lats.extend(a)
    out["lat_ms"] = sorted(x * 1000 for x in lats)
    out["reply_ms"] = sorted(x * 1000 for x in out["reply"])
    out["ended"] = {}
    out["messages"] = sum(s["messages"] for s in summaries)
    out["events"] = sum(s["events"] for s in summaries)
    for s in summaries:
        for k, v in s["ended"].items():
            out["ended"][k] = out["ended"].get(k, 0) + v
    out["rate"] = out["sent"] / out["send_secs"] if out["send_secs"] else float("nan")
    return out


def measure_watch(sz: dict, profile: str | None) -> list[Row]:
    from minik8s.api.pb import api_pb2
    w, r = sz["watchers"], sz["watch_rate"]
    log(f"2. watch latency: {w} watchers, {r} writes/s for {sz['watch_secs']}s")
    outdir = tempfile.mkdtemp(prefix="minik8s-watch-")
    try:
        with Server() as srv:
            prof = Profiler(profile, "2-watch", srv.pid)
            res = asyncio.run(_paced_watch(srv.address, srv.token, srv.pid, sz, outdir))
            prof.stop()
            log(f"   minik8s watcher streams: {res['ended']}")
            log("   bare SQLite 1-row commit latency on the same filesystem")
            _, commits = sqlite_commit_rate(srv.home, res["last"].SerializeToString(), 1,
                                            sz["sqlite_rows"] // 5, sz["sqlite_secs"] / 5)
        commit_ms = sorted(c * 1000 for c in commits)
        reply = api_pb2.ObjectResponse(kind="Pod", object=res["last"].SerializeToString()).SerializeToString()
        log("   the same watchers and writer against the bare grpc.aio fan-out server")
        with EchoServer(reply) as echo:
            eres = asyncio.run(_paced_watch(echo.address, echo.token, echo.pid, sz, outdir))
        log(f"   echo watcher streams: {eres['ended']}")
    finally:
        import shutil
        shutil.rmtree(outdir, ignore_errors=True)
    lat, rep, elat = res["lat_ms"], res["reply_ms"], eres["lat_ms"]
    nan = float("nan")
    rows = [
        Row(f"watch latency p50 ({w} watchers, {r} writes/s)", percentile(lat, 50), percentile(rep, 50), "ms",
            "create reply p50", fmt="{:,.1f}", note="-"),
        Row(f"watch latency p99 ({w} watchers, {r} writes/s)", percentile(lat, 99), percentile(rep, 99), "ms",
            "create reply p99", target=("<=", 20.0), fmt="{:,.1f}"),
        Row("watch latency p99 vs bare gRPC fan-out", percentile(lat, 99), percentile(elat, 99), "ms",
            "grpc.aio echo fan-out p99", fmt="{:,.1f}", note="info: transport + client limit"),
        Row("watch latency p50 vs bare gRPC fan-out", percentile(lat, 50), percentile(elat, 50), "ms",
            "grpc.aio echo fan-out p50", fmt="{:,.1f}", note="info"),
        Row("create reply p99 (paced writer)", percentile(rep, 99), percentile(commit_ms, 99), "ms",
            "bare SQLite 1-row commit p99", fmt="{:,.1f}", note="info: disk floor"),
        Row("writes/s achieved by the paced writer", res["rate"], eres["rate"], "/s",
            f"echo fan-out; {r}/s offered", fmt="{:,.0f}", note="info"),
        Row("watch events delivered", float(len(lat)), float(res["sent"] * w), "", "writes x watchers",
            fmt="{:,.0f}", note="info: all should arrive"),
    ]
    for who in res["cpu"]:
        rows.append(Row(f"CPU: {who}", res["cpu"][who] * 100, eres["cpu"].get(who, nan) * 100, "% of a core",
                        "same, echo fan-out run", fmt="{:,.0f}", note="info: where time goes"))
    return rows


# ================================================================ 6. watch fan-out under load
def measure_fanout(sz: dict, profile: str | None) -> list[Row]:
    """The sustained write rate with `watchers` watch streams open beside the rate with none (ABA: none,
    watchers, none), then the watch delivery latency with a paced writer at half the rate reached with
    the watchers. Each phase has a fresh server, so no watch starts with an earlier phase's pods."""
    w, n, inflight = sz["watchers"], sz["fanout_creates"], sz["inflight"]
    log(f"6. watch fan-out: {n} creates ({inflight} in flight) with no watchers and with {w}")
    outdir = tempfile.mkdtemp(prefix="minik8s-fanout-")
    template = pod_template()

    def alone(prefix: str) -> float:
        with Server() as srv:
            return asyncio.run(drive_creates(srv.address, srv.token, template, n, inflight, prefix))["rate"]

    def watched(rate: int, run: str, name: str) -> dict:
        with Server() as srv:
            prof = Profiler(profile, name, srv.pid)
            res = asyncio.run(_paced_watch(srv.address, srv.token, srv.pid, dict(sz, watch_rate=rate, run=run),
                                           outdir))
            prof.stop()
        log(f"   watcher streams: {res['ended']}; cores used: "
            + ", ".join(f"{k} {v:.2f}" for k, v in res["cpu"].items()))
        return res

    try:
        rates = [alone("alone-a-")]
        burst = watched(0, "burst", "6-fanout-unpaced")
        rates.append(alone("alone-b-"))
        log(f"   creates/s: {rates[0]:,.0f} alone, {burst['rate']:,.0f} with {w} watchers, {rates[1]:,.0f} alone")
        half = max(1, int(burst["rate"] / 2))
        log(f"   paced writer at {half}/s with {w} watchers")
        paced = watched(half, "paced", "6-fanout-paced")
    finally:
        import shutil
        shutil.rmtree(outdir, ignore_errors=True)
    lat, rep = paced["lat_ms"], paced["reply_ms"]
    rows = [
        Row(f"creates/s with {w} watchers ({n} creates, {inflight} in flight)", burst["rate"], median(rates), "/s",
            "no watchers (run before and after)", target=(">=", 0.80), relative=True, fmt="{:,.0f}"),
        Row("watch events delivered in the unpaced run", float(len(burst["lat_ms"])), float(burst["sent"] * w),
            "", "writes x watchers", fmt="{:,.0f}", note="info: all should arrive"),
        Row(f"watch latency p99 ({w} watchers, {half}/s: half the rate above)", percentile(lat, 99),
            percentile(rep, 99), "ms", "create reply p99", target=("<=", 20.0), fmt="{:,.1f}"),
        Row(f"watch latency p50 ({w} watchers, {half}/s)", percentile(lat, 50), percentile(rep, 50), "ms",
            "create reply p50", fmt="{:,.1f}", note="info"),
        Row("writes/s achieved by the paced writer", paced["rate"], float(half), "/s", "offered", fmt="{:,.0f}",
            note="info"),
        Row("watch events delivered in the paced run", float(len(lat)), float(paced["sent"] * w), "",
            "writes x watchers", fmt="{:,.0f}", note="info: all should arrive"),
    ]
    for name, res in (("unpaced", burst), ("paced", paced)):
        rows.append(Row(f"events per watch message, {name} run", res["events"] / max(1, res["messages"]), None, "",
                        note="info: a watcher's cost is mostly per message"))
    for who in burst["cpu"]:
        if who.startswith("server main thread,"):
            continue
        rows.append(Row(f"CPU per create, unpaced with {w} watchers: {who}", burst["cpu"][who] / burst["rate"] * 1e6,
                        None, "us", fmt="{:,.0f}", note="info: where time goes"))
    per_msg = burst["cpu"]["watcher processes"] / burst["rate"] * burst["sent"] / max(1, burst["messages"])
    rows.append(Row("watcher processes' CPU per watch message received, unpaced", per_msg * 1e6, None, "us",
                    fmt="{:,.0f}", note="info: where time goes"))
    return rows


# ================================================================ 3. list
def measure_list(sz: dict, profile: str | None) -> list[Row]:
    import grpc
    from minik8s.api.pb import api_pb2
    from minik8s.client import transport
    from minik8s.client.client import Client
    n = sz["list_pods"]
    log(f"3. List of {n} pods")
    with Server() as srv:
        client = Client(srv.address, srv.token, timeout=120)
        client.version()
        time.sleep(0.5)
        rss_empty = srv.rss()
        asyncio.run(drive_creates(srv.address, srv.token, pod_template(), n, 64, "list-"))
        time.sleep(0.5)
        rss_loaded = srv.rss()
        prof = Profiler(profile, "3-list", srv.pid)
        got = []
        times = timed_runs(lambda: got.append(len(client.list("pods"))), sz["list_reps"])
        if got[-1] != n:
            raise RuntimeError(f"listed {got[-1]} pods, expected {n}")
        channel = grpc.insecure_channel(srv.address, transport.CHANNEL_OPTIONS)
        raw_list = channel.unary_unary("/minik8s.api.API/List",
                                       request_serializer=api_pb2.ListRequest.SerializeToString,
                                       response_deserializer=None)
        req = api_pb2.ListRequest(kind="Pod")
        md = (("authorization", f"Bearer {srv.token}"),)
        blobs = []
        raw_times = timed_runs(lambda: blobs.append(raw_list(req, metadata=md, timeout=120)), sz["list_reps"])
        prof.stop()
        data = sum(len(b) for b in api_pb2.ListResponse.FromString(blobs[-1]).items)
        channel.close()
        client.close()
    return [
        Row(f"Client.list('pods'), {n} pods (median of {sz['list_reps']})", median(times) * 1000,
            median(raw_times) * 1000, "ms", "same List, raw bytes, no client decode", target=("<=", 300.0),
            fmt="{:,.0f}"),
        Row(f"server RSS with {n} pods", rss_loaded / MB, rss_empty / MB, "MB", "fresh empty server",
            target=("<=", 150.0), fmt="{:,.1f}"),
        Row(f"server RSS growth for {n} pods", (rss_loaded - rss_empty) / MB, data / MB, "MB",
            "raw bytes of the pods", fmt="{:,.1f}", note="info: memory per stored byte"),
    ]


# ================================================================ 4. minictl
def measure_minictl(sz: dict, profile: str | None) -> list[Row]:
    from minik8s.client.config import ClientConfig
    runs, n = sz["ctl_runs"], sz["ctl_pods"]
    label = f"minictl get pods, {n} pods (median of {runs})"
    if not os.path.exists(os.path.join(ROOT, "minik8s", "cli", "main.py")):
        log("4. minictl not built: skipped")
        return [Row(label, None, None, "ms", target=("<=", 250.0), na="n/a (minictl not built)")]
    log(f"4. minictl get pods with {n} pods")
    cmd = [sys.executable, "-m", "minik8s.cli.main", "get", "pods"]
    rows = []
    with Server() as srv:
        asyncio.run(drive_creates(srv.address, srv.token, pod_template(), n, 16, "ctl-"))
        home = tempfile.mkdtemp(prefix="minik8s-ctl-")
        try:
            ClientConfig(server=srv.address, token=srv.token).save(home)
            # As installed: bytecode cached (kept out of the source tree with PYTHONPYCACHEPREFIX).
            cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            cached.update(MINIK8S_HOME=home, PYTHONPYCACHEPREFIX=os.path.join(home, "pycache"))
            # No bytecode cache at all: every module compiled on every run.
            uncached = dict(os.environ, MINIK8S_HOME=home, PYTHONDONTWRITEBYTECODE="1")
            uncached.pop("PYTHONPYCACHEPREFIX", None)

            def ctl(env):
                r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=60)
                if r.returncode != 0:
                    raise RuntimeError(f"minictl get pods failed ({r.returncode}): "
                                       f"{r.stderr.decode(errors='replace')[-1000:]}")
                lines = [ln for ln in r.stdout.decode().splitlines() if ln.strip()]
                if len(lines) < n:
                    raise RuntimeError(f"minictl get pods printed {len(lines)} lines, expected {n}+")

            def bare(env):
                subprocess.run([sys.executable, "-c", "pass"], env=env, cwd=ROOT, check=True, timeout=60)

            for env, what in ((cached, "bytecode cached"), (uncached, "no bytecode cache")):
                ctl(env)
                bare(env)      # fills the bytecode cache and the page cache
                times = timed_runs(lambda: ctl(env), runs)
                base = timed_runs(lambda: bare(env), runs)
                if env is cached:
                    rows.append(Row(f"{label}, {what}", median(times) * 1000, median(base) * 1000, "ms",
                                    "python -c pass", target=("<=", 250.0), fmt="{:,.0f}"))
                else:
                    rows.append(Row(f"minictl get pods, {what} (PYTHONDONTWRITEBYTECODE=1)", median(times) * 1000,
                                    median(base) * 1000, "ms", "python -c pass", fmt="{:,.0f}",
                                    note="info: first run after install/edit"))
        finally:
            import shutil
            shutil.rmtree(home, ignore_errors=True)
    return rows


# ================================================================ 5. authorization's cost
async def _create_get_latencies(address: str, token: str, names: list[str]) -> tuple[list[float], list[float]]:
    """One create then one get per name, one request in flight: each call's own latency."""
    from minik8s.client.aio import AsyncClient
    template, creates, gets = pod_template(), [], []
    async with AsyncClient(address, token) as client:
        for name in names:
            pod = make_pod(template, name)
            t = time.perf_counter()
            await client.create(pod)
            creates.append(time.perf_counter() - t)
            t = time.perf_counter()
            await client.get("Pod", name, "default")
            gets.append(time.perf_counter() - t)
    return creates, gets


def measure_authorization(sz: dict, profile: str | None) -> list[Row]:
    """The controller manager's token creates and gets pods: allowed by RBAC (its per-controller roles,
    after the rule index's other rules) on one server, by AlwaysAllow on the other."""
    n, rounds = sz["authz_ops"], 10
    log(f"5. create/get latency, RBAC vs authorization off, {n} of each per server")
    lat = {"rbac": ([], []), "off": ([], [])}
    with Server() as rbac, Server(extra_args=("--authorization-mode", "AlwaysAllow")) as off:
        servers = {"rbac": rbac, "off": off}
        for r in range(rounds):
            for key, srv in servers.items() if r % 2 == 0 else reversed(servers.items()):
                names = [f"authz-{r}-{i:05d}" for i in range(n // rounds)]
                creates, gets = asyncio.run(_create_get_latencies(srv.address, srv.proc.tokens["controller-manager"],
                                                                  names))
                lat[key][0].extend(creates)
                lat[key][1].extend(gets)
    rows = []
    for i, verb in enumerate(("create", "get")):
        for q in (50, 99):
            on, base = percentile(lat["rbac"][i], q) * 1000, percentile(lat["off"][i], q) * 1000
            rows.append(Row(f"{verb} latency p{q}, controller manager via RBAC", on, base, "ms",
                            "authorization off", target=("<=", 1.05) if q == 50 else None, relative=True,
                            fmt="{:,.2f}", note="" if q == 50 else "info"))
    return rows


# ================================================================ main
MEASURES = {"1": measure_creates, "2": measure_watch, "3": measure_list, "4": measure_minictl,
            "5": measure_authorization, "6": measure_fanout}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.api", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small counts: a smoke run of every measure")
    p.add_argument("--only", default="1,2,3,4,5,6", help="comma-separated measures to run (default all)")
    p.add_argument("--watch-procs", type=int, help="watcher subprocesses for measure 2")
    p.add_argument("--watchers", type=int, help="watch streams for measure 2 (default 100)")
    p.add_argument("--watch-rate", type=int, help="writes/s for measure 2 (default 1000)")
    p.add_argument("--profile", metavar="DIR", help="py-spy the server during each measure into DIR")
    # internal: the watcher subprocess of measure 2
    p.add_argument("--role", choices=["watchers"], help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    p.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--run", default="w", help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=60.0, help=argparse.SUPPRESS)
    p.add_argument("--ready-timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.role == "watchers":
        return asyncio.run(watcher_role(args))
    sz = dict(SIZES["quick" if args.quick else "full"])
    for key in ("watch_procs", "watchers", "watch_rate"):
        if getattr(args, key):
            sz[key] = getattr(args, key)
    wanted = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in MEASURES]
    if unknown:
        p.error(f"unknown measure(s) {unknown}: choose from {','.join(MEASURES)}")
    rows: list[Row] = []
    t = time.monotonic()
    load0 = os.getloadavg()[0]
    for m in wanted:
        rows.extend(MEASURES[m](sz, args.profile))
    load1 = os.getloadavg()[0]
    log(f"done in {time.monotonic() - t:.0f}s")
    print(f"\nminik8s API benchmarks ({'quick' if args.quick else 'full'} run, {time.monotonic() - t:.0f}s; "
          f"{os.cpu_count()} CPUs; 1-min load average {load0:.1f} at start, {load1:.1f} at end)")
    print("Servers (API server, bare grpc.aio echo) are subprocesses on 127.0.0.1. Load: this process "
          "(asyncio, one AsyncClient); measure 2's watchers run in "
          f"{min(sz['watch_procs'], sz['watchers'])} subprocess(es).\n")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
