"""Every node's Filter verdict and Score for one kind of pod, kept current by re-examining only the
nodes that changed since the last pod of that kind was scheduled.

Pods of one kind (same requests, selectors, tolerations, ports, priority: `pod_signature`) get the
same verdict and the same scores from node-local plugins on an unchanged node. So after the first pod
of a kind is examined against every node, the next one only re-runs the plugins on the nodes whose
NodeInfo changed since (usually one: where the previous pod was assumed), and picks the best node from
a heap of totals. The decision is exactly the one a full pass would make (ties go to the node whose
name sorts first); only the work is smaller. This is upstream's opportunistic batching (KEP-5598)
taken to its end, and what lets a Python scheduler look at all 5,000 nodes for every pod instead of
upstream's sample of a few hundred.

When a score plugin normalizes (its scores depend on every node's), totals are recomputed from the
kept per-node scores at each decision, still without re-running any plugin on unchanged nodes."""
from __future__ import annotations

import heapq
import json
import time

from minik8s.scheduler.framework.interface import Code, CycleState, Status
from minik8s.scheduler.nodeinfo import NodeInfo, PodInfo

_perf = time.perf_counter
TOP_KEPT = 16       # best nodes kept in order between pods, for the decision record (which lists 10)
encode_json = json.JSONEncoder(separators=(",", ":")).encode     # compact, as the decision record is written


def pod_signature(pod: PodInfo) -> tuple:
    """What node-local plugins may read of a pod: two pods with one signature are one kind."""
    if pod.signature is None:
        spec = pod.pod.spec
        aff = spec.affinity
        pod.signature = (
            spec.schedulerName, pod.priority, tuple(sorted(pod.requests.items())), pod.nonzero_cpu,
            pod.nonzero_mem, pod.host_ports, tuple(sorted(spec.nodeSelector.items())),
            aff.nodeAffinity.SerializeToString(deterministic=True) if aff.HasField("nodeAffinity") else b"",
            pod.tolerations)
    return pod.signature


class Evaluation:
    """Rows are (generation, status or None, scores or None, weighted total) per node name."""

    def __init__(self, filters: list, scorers: list[tuple[object, int]]):
        self.filters = filters
        self.scorers = scorers
        self.weights = [w for _, w in scorers]
        self.normalizing = any(p.normalize_score is not None for p, _ in scorers)
        self.seq = -1
        self.rows: dict[str, tuple] = {}
        self.heap: list[tuple[int, str, int]] = []
        self.reasons: dict[str, int] = {}       # reason -> filtered nodes giving it
        self.feasible = 0
        self.unresolvable = 0                   # filtered nodes that preemption cannot help
        self.evaluated = 0                      # nodes the plugins ran on in the last refresh
        self.filter_seconds = 0.0
        self.score_seconds = 0.0
        self._normalized: list | None = None
        self._row_json: dict[str, str] = {}     # name -> its decision record row, while the row stands
        # the best feasible nodes in order, (-total, name): exactly the first len(_top) of the whole
        # ranking; None when it must be read from the heap again
        self._top: list[tuple[int, str]] | None = None
        # the decision record's score columns, the same for every pod this evaluation serves
        self.columns_json = (f'"plugins":{encode_json([p.name for p, _ in scorers])},'
                             f'"weights":{encode_json(self.weights)}')

    # ---------------------------------------------------------------- keeping rows current
    def refresh(self, state: CycleState, pod: PodInfo, snapshot, nominated: bool = False) -> None:
        """Bring every row up to date with `snapshot` (the SchedulerCache). With `nominated`, pods
        nominated to a node with at least this pod's priority count on it (preemptors hold room)."""
        self.filter_seconds = self.score_seconds = 0.0
        self._normalized = None
        changed = snapshot.changed_since(self.seq) if self.seq >= 0 else None
        if changed is None or len(changed) > len(snapshot.nodes):
            self.rows.clear()
            self._row_json.clear()
            self.heap = []
            self._top = None
            self.reasons = {}
            self.feasible = self.unresolvable = 0
            names = list(snapshot.nodes)
        else:
            names = set(changed)
        self.evaluated = len(names)
        nodes = snapshot.nodes
        for name in names:
            self._drop(name)
            ni = nodes.get(name)
            if ni is not None and ni.node is not None:
                if nominated:
                    ni = with_nominated(ni, pod, snapshot)
                self._evaluate(state, pod, ni)
        if self._top is not None:
            self._update_top(names)
        self.seq = snapshot.seq
        if len(self.heap) > 2 * self.feasible + 1024:
            self.heap = [(-row[3], name, row[0]) for name, row in self.rows.items() if row[1] is None]
            heapq.heapify(self.heap)

    def _update_top(self, changed) -> None:
        """Keep `_top` exact after the rows of `changed` were redone: the kept entries of unchanged
        nodes are still the best of the unchanged nodes, so a changed node's new entry is placed
        among them when it ranks before the last of them (after it, its place is unknown)."""
        kept = [e for e in self._top if e[1] not in changed]
        if not kept:
            self._top = None
            return
        last, rows = kept[-1], self.rows
        for name in changed:
            row = rows.get(name)
            if row is not None and row[1] is None and (-row[3], name) < last:
                kept.append((-row[3], name))
        kept.sort()
        self._top = kept[:TOP_KEPT]

    def _drop(self, name: str) -> None:
        self._row_json.pop(name, None)
        row = self.rows.pop(name, None)
        if row is None:
            return
        status = row[1]
        if status is None:
            self.feasible -= 1
            return
        if status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            self.unresolvable -= 1
        for r in status.reasons:
            n = self.reasons[r] - 1
            if n:
                self.reasons[r] = n
            else:
                del self.reasons[r]

    def _evaluate(self, state: CycleState, pod: PodInfo, ni: NodeInfo) -> None:
        t0 = _perf()
        status = None
        for f in self.filters:
            status = f.filter(state, pod, ni)
            if status is not None:
                break
        t1 = _perf()
        self.filter_seconds += t1 - t0
        if status is not None:
            self.rows[ni.name] = (ni.generation, status, None, 0)
            if status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                self.unresolvable += 1
            for r in status.reasons:
                self.reasons[r] = self.reasons.get(r, 0) + 1
            return
        scores = tuple([p.score(state, pod, ni) for p, _ in self.scorers])
        total = sum([w * s for w, s in zip(self.weights, scores)])
        self.rows[ni.name] = (ni.generation, None, scores, total)
        self.feasible += 1
        if not self.normalizing:
            heapq.heappush(self.heap, (-total, ni.name, ni.generation))
        self.score_seconds += _perf() - t1

    # ---------------------------------------------------------------- reading the result
    def statuses(self) -> dict[str, Status]:
        """Why each filtered node was filtered."""
        return {name: row[1] for name, row in self.rows.items() if row[1] is not None}

    def best(self, state: CycleState) -> str | None:
        """The feasible node with the highest total (ties: the name that sorts first)."""
        if self.feasible == 0:
            return None
        if self.normalizing:
            return self._normalized_rows(state)[0][1]
        heap, rows = self.heap, self.rows
        while heap:
            _, name, gen = heap[0]
            row = rows.get(name)
            if row is not None and row[0] == gen and row[1] is None:
                return name
            heapq.heappop(heap)
        return None

    def ranked(self, state: CycleState, limit: int) -> list[tuple[str, tuple, int]]:
        """Up to `limit` feasible nodes, best first: (name, scores as normalized, total)."""
        if self.normalizing:
            return [(name, scores, total) for _, name, scores, total in self._normalized_rows(state)[:limit]]
        rows = self.rows
        if self._top is None or len(self._top) < min(limit, self.feasible):
            self._top = self._read_top(max(limit, TOP_KEPT))
        return [(name, rows[name][2], rows[name][3]) for _, name in self._top[:limit]]

    def _read_top(self, n: int) -> list[tuple[int, str]]:
        """The `n` best feasible nodes, from the heap (left as it was, but for stale entries)."""
        out, taken, seen = [], [], set()
        heap, rows = self.heap, self.rows
        while heap and len(out) < n:
            item = heapq.heappop(heap)
            _, name, gen = item
            row = rows.get(name)
            if row is None or row[0] != gen or row[1] is not None or name in seen:
                continue
            seen.add(name)
            taken.append(item)
            out.append((-row[3], name))
        for item in taken:
            heapq.heappush(heap, item)
        return out

    def ranked_json(self, state: CycleState, limit: int) -> list[str]:
        """`ranked` as decision record rows, `["node-2",211,[18,93,100]]`; a row whose node has not
        changed since is encoded once (normalized scores change with every node's, so not theirs)."""
        if self.normalizing:
            return [encode_json([name, total, list(scores)]) for name, scores, total in self.ranked(state, limit)]
        out, cached = [], self._row_json
        for name, scores, total in self.ranked(state, limit):
            row = cached.get(name)
            if row is None:
                row = cached[name] = encode_json([name, total, list(scores)])
            out.append(row)
        return out

    def _normalized_rows(self, state: CycleState) -> list:
        if self._normalized is not None:
            return self._normalized
        names = [name for name, row in self.rows.items() if row[1] is None]
        columns = []
        for i, (plugin, _) in enumerate(self.scorers):
            col = [self.rows[n][2][i] for n in names]
            if plugin.normalize_score is not None:
                plugin.normalize_score(state, col)
            columns.append(col)
        out = []
        for j, name in enumerate(names):
            scores = tuple(col[j] for col in columns)
            total = sum(w * s for w, s in zip(self.weights, scores))
            out.append((-total, name, scores, total))
        out.sort(key=lambda r: (r[0], r[1]))
        self._normalized = out
        return out


def with_nominated(ni: NodeInfo, pod: PodInfo, snapshot) -> NodeInfo:
    """`ni` with the pods nominated to it that are at least as important as `pod` counted on it."""
    extra = [p for p in snapshot.nominated_pods(ni.name) if p.uid != pod.uid and p.priority >= pod.priority]
    if not extra:
        return ni
    ni = ni.clone()
    for p in extra:
        ni.add_pod(p)
    return ni
