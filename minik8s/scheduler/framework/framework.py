"""A profile's plugins, run for one pod: PreFilter, Filter and Score through a per-kind Evaluation,
PostFilter when nothing fits, Reserve/Unreserve around the assume, PreBind (filters that have one), Bind.

`schedule()` is synchronous: the scheduler calls it between awaits, so the SchedulerCache it reads
cannot change under it. Only binding and PostFilter's API work are asynchronous."""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from minik8s.scheduler.framework.evaluation import Evaluation, encode_json, pod_signature
from minik8s.scheduler.framework.interface import (BindPlugin, Code, CycleState, FilterPlugin, FitError,
                                                   PostFilterPlugin, PostFilterResult, PreFilterPlugin,
                                                   PreScorePlugin, ReservePlugin, ScorePlugin, Status,
                                                   reason_histogram)
from minik8s.scheduler.nodeinfo import PodInfo

NO_NODES = "no nodes available to schedule pods"
EVALUATIONS_KEPT = 32       # kinds of pods whose per-node results are kept (least recently used go)
RECORD_NODES = 10           # nodes a decision record lists by name (the rest are counted)

_perf = time.perf_counter


@dataclass
class Handle:
    """What plugins may use beyond the pod and the snapshot: the API client, the clock, this profile's
    event recorder, and a background writer for annotations a bind could not carry."""
    client: object
    clock: object
    scheduler_name: str
    recorder: object = None
    annotate: Callable | None = None
    run_filters: Callable | None = None     # (state, pod, node_info) -> Status | None; set by the Framework
    informers: object = None                # the scheduler's SharedInformerFactory (claims, volumes, classes)


@dataclass
class Decision:
    node: str
    state: CycleState
    evaluation: Evaluation
    num_nodes: int


@dataclass
class Failure:
    fit_error: FitError | None          # None: no nodes at all
    state: CycleState
    statuses: dict[str, Status] = field(default_factory=dict)
    unschedulable_plugins: frozenset[str] = frozenset()

    @property
    def message(self) -> str:
        return str(self.fit_error) if self.fit_error is not None else NO_NODES


class Framework:
    def __init__(self, profile, registry: dict, handle: Handle, metrics=None):
        self.name = profile.scheduler_name
        self.profile = profile
        self.handle = handle
        self.metrics = metrics
        instances: dict[str, object] = {}

        def plugin(name: str):
            if name not in instances:
                if name not in registry:
                    raise ValueError(f"profile {self.name}: unknown plugin {name!r}")
                instances[name] = registry[name](profile.plugin_args.get(name, {}), handle)
            return instances[name]

        self.filters: list[FilterPlugin] = [plugin(n) for n in profile.filter]
        self.pre_filters: list[PreFilterPlugin] = [p for p in self.filters if hasattr(p, "pre_filter")]
        self.scorers: list[tuple[ScorePlugin, int]] = [(plugin(n), w) for n, w in profile.score]
        self.pre_scores: list[PreScorePlugin] = [p for p, _ in self.scorers if hasattr(p, "pre_score")]
        self.pre_binds = [p for p in self.filters if hasattr(p, "pre_bind")]
        self.post_filters: list[PostFilterPlugin] = [plugin(n) for n in profile.post_filter]
        self.reserves: list[ReservePlugin] = [plugin(n) for n in profile.reserve]
        self.binders: list[BindPlugin] = [plugin(n) for n in profile.bind]
        self.plugins = instances
        handle.run_filters = self.run_filters
        self._evaluations: OrderedDict[tuple, Evaluation] = OrderedDict()
        self._histograms: dict = {}         # extension point -> its duration histogram

    # ---------------------------------------------------------------- the scheduling cycle
    def schedule(self, pod: PodInfo, snapshot) -> Decision | Failure:
        state = CycleState()
        num_nodes = snapshot.num_nodes
        if num_nodes == 0:
            return Failure(None, state)
        t0 = _perf()
        skipped = state.skipped = set()
        for p in self.pre_filters:
            st = p.pre_filter(state, pod, snapshot)
            if st is None:
                continue
            if st.code == Code.SKIP:
                skipped.add(p.name)
                continue
            self._observe("PreFilter", _perf() - t0)
            return Failure(FitError(num_nodes, pre_filter_msg=st.message), state,
                           {n.name: st for n in snapshot.node_infos()}, frozenset((p.name,)))
        filters = [f for f in self.filters if f.name not in skipped]
        t1 = _perf()
        self._observe("PreFilter", t1 - t0)
        # a PreScore SKIP: the plugin would give every node the same score
        skipped_scores = {p.name for p in self.pre_scores if p.pre_score(state, pod, snapshot) is not None}
        scorers = [(p, w) for p, w in self.scorers if p.name not in skipped_scores]
        t2 = _perf()
        self._observe("PreScore", t2 - t1)
        ev = self._evaluation(pod, filters, scorers, snapshot)
        ev.refresh(state, pod, snapshot, nominated=snapshot.has_nominations)
        self._observe("Filter", ev.filter_seconds)
        t3 = _perf()
        node = ev.best(state)
        self._observe("Score", ev.score_seconds + (_perf() - t3))
        if node is None:
            statuses = ev.statuses()
            plugins = frozenset(st.plugin for st in statuses.values())
            return Failure(FitError(num_nodes, dict(ev.reasons)), state, statuses, plugins)
        return Decision(node, state, ev, num_nodes)

    def run_filters(self, state: CycleState, pod: PodInfo, node) -> Status | None:
        """This cycle's filters on one NodeInfo (preemption's what-if on a node with pods removed)."""
        for f in self.filters:
            if f.name not in state.skipped:
                st = f.filter(state, pod, node)
                if st is not None:
                    return st
        return None

    def _evaluation(self, pod: PodInfo, filters: list, scorers: list, snapshot) -> Evaluation:
        local = all(f.node_local for f in filters) and all(p.node_local for p, _ in scorers)
        if not local or snapshot.has_nominations:
            return Evaluation(filters, scorers)       # examined afresh, not kept
        key = (pod_signature(pod), tuple(f.name for f in filters), tuple(p.name for p, _ in scorers))
        ev = self._evaluations.get(key)
        if ev is None:
            ev = self._evaluations[key] = Evaluation(filters, scorers)
            if len(self._evaluations) > EVALUATIONS_KEPT:
                self._evaluations.popitem(last=False)
        else:
            self._evaluations.move_to_end(key)
        return ev

    def post_filter(self, pod: PodInfo, failure: Failure, snapshot) -> PostFilterResult | None:
        t0 = _perf()
        try:
            for p in self.post_filters:
                result = p.post_filter(failure.state, pod, failure.statuses, snapshot)
                if result is not None and (result.nominated_node or result.message):
                    return result
            return None
        finally:
            self._observe("PostFilter", _perf() - t0)

    def reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        t0 = _perf()
        try:
            for p in self.reserves:
                st = p.reserve(state, pod, node)
                if st is not None:
                    self.unreserve(state, pod, node)
                    return st
            return None
        finally:
            self._observe("Reserve", _perf() - t0)

    def unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for p in reversed(self.reserves):
            p.unreserve(state, pod, node)

    async def pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> None:
        """The API writes that must land before the bind (a claim's selected node); raises when one failed."""
        t0 = _perf()
        try:
            for p in self.pre_binds:
                if p.name not in state.skipped:
                    await p.pre_bind(state, pod, node)
        finally:
            self._observe("PreBind", _perf() - t0)

    async def bind(self, pod: PodInfo, node: str, annotations: dict[str, str]) -> None:
        """Run the binders until one binds; raises the binder's error when the bind failed."""
        t0 = _perf()
        try:
            for p in self.binders:
                st = await p.bind(pod, node, annotations)
                if st is None or st.code != Code.SKIP:
                    return
            raise RuntimeError(f"profile {self.name}: no bind plugin bound the pod")
        finally:
            self._observe("Bind", _perf() - t0)

    def _observe(self, point: str, seconds: float) -> None:
        if self.metrics is not None:
            hist = self._histograms.get(point)
            if hist is None:
                hist = self._histograms[point] = self.metrics.extension_point(self.name, point)
            hist.observe(seconds)

    # ---------------------------------------------------------------- the decision record
    def record(self, decision: Decision, limit: int = RECORD_NODES) -> dict:
        """`record_json`, read back."""
        return json.loads(self.record_json(decision, limit))

    def record_json(self, decision: Decision, limit: int = RECORD_NODES) -> str:
        """Why the pod went where it went, as the scheduler.minik8s.io/decision annotation holds it
        (compact JSON):

            {"node": "node-2", "nodes": 3,                      # the choice, among how many nodes
             "plugins": ["NodeResourcesFit", ...], "weights": [1, ...],   # the score columns
             "rows": [["node-2", 211, [18, 93, 100]],           # passed: total, each plugin's score
                      ["gpu-1", "node(s) had untolerated taint {nvidia.com/gpu: present}"]],  # filtered
             "more": {"feasible": 4990, "filtered": 0, "reasons": ""}}     # only when rows left out

        Rows: the nodes that passed, best first, then the filtered ones by name. Every node is listed
        when there are at most `limit`; otherwise the `limit` best, and the rest counted in `more`
        (`reasons` is the filtered nodes' reason histogram, as in the FailedScheduling message). A
        total is the sum of weight * score over the plugins. Written for every pod bound, so the
        parts that do not change from one pod to the next (the columns, the rows of nodes that did not
        change) are encoded once by the Evaluation."""
        ev = decision.evaluation
        rows = ev.ranked_json(decision.state, limit)
        ranked = len(rows)
        filtered = ev.statuses() if len(ev.rows) <= limit else {}
        for name in sorted(filtered)[:max(0, limit - ranked)]:
            rows.append(encode_json([name, filtered[name].message]))
        more = ""
        more_feasible = ev.feasible - ranked
        more_filtered = len(ev.rows) - ev.feasible - (len(rows) - ranked)
        if more_feasible or more_filtered:
            more = (f',"more":{{"feasible":{more_feasible},"filtered":{more_filtered},'
                    f'"reasons":{encode_json(reason_histogram(ev.reasons))}}}')
        return (f'{{"node":{encode_json(decision.node)},"nodes":{decision.num_nodes},{ev.columns_json},'
                f'"rows":[{",".join(rows)}]{more}}}')
