"""The scheduling framework's vocabulary, after upstream's framework package: one small protocol per
extension point, the Status a plugin answers with, the per-pod CycleState, and the FitError whose text
is the FailedScheduling message.

A plugin is an object with a `name` that implements any of these protocols; it knows nothing of the
queue or the API (a Binder or PostFilter reaches the API through the `Handle` it was built with). A
Filter or Score that depends on anything but the pod and the one NodeInfo it is handed must say so
with `node_local = False`: the framework reuses node-local verdicts across pods of one kind."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from minik8s.scheduler.nodeinfo import NodeInfo, PodInfo

MAX_NODE_SCORE = 100


class Code(IntEnum):
    """What a Status says (success is no Status at all: None)."""
    UNSCHEDULABLE = 2                       # preemption might help
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3      # no amount of preemption helps on this node
    SKIP = 5                                # PreFilter/PreScore/Bind: leave this plugin out for this pod


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


def unschedulable(plugin: str, *reasons: str, resolvable: bool = True) -> Status:
    return Status(Code.UNSCHEDULABLE if resolvable else Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)


SKIP = Status(Code.SKIP)


class CycleState(dict):
    """Scratch space for one pod's scheduling cycle: what a plugin's PreFilter/PreScore worked out,
    read back by its Filter/Score. Keyed by plugin name."""


class Snapshot(Protocol):
    """What plugins may read of the cluster during a cycle: the SchedulerCache, read-only."""
    nodes: dict[str, NodeInfo]          # by name; a NodeInfo whose `node` is None is not a node (yet)
    num_nodes: int
    prefer_taint_nodes: int             # nodes with PreferNoSchedule taints
    usage_nodes: int                    # nodes whose kubelet reported usage
    has_nominations: bool

    def node_infos(self): ...           # the NodeInfos that are nodes
    def affinity_pods(self): ...        # (NodeInfo, PodInfo) of pods with required (anti-)affinity
    def lowest_priority(self) -> int | None: ...
    def nominated_pods(self, node: str): ...
    def nominated_node(self, uid: str) -> str: ...


class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        """None to go on; SKIP to skip this plugin's Filter; a rejection fails the pod on every node."""


class FilterPlugin(Protocol):
    name: str
    node_local: bool

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None when the pod fits the node, else why not."""


class PostFilterPlugin(Protocol):
    name: str

    def post_filter(self, state: CycleState, pod: PodInfo, statuses: dict[str, Status],
                    snapshot: Snapshot) -> "PostFilterResult":
        """Called when no node fits: try to make one (preemption)."""


@dataclass
class PostFilterResult:
    nominated_node: str = ""
    message: str = ""           # appended to the FitError message ("preemption: ...")
    victims: list = field(default_factory=list)     # PodInfos to evict
    actions: object = None      # () -> awaitable: the API calls that carry it out, run as a task


class PreScorePlugin(Protocol):
    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        """None to score; SKIP when the plugin would give every node the same score."""


class ScorePlugin(Protocol):
    name: str
    node_local: bool
    # normalize_score(state, scores: list[int]) -> None rescales every feasible node's score in
    # place to 0..MAX_NODE_SCORE; None for plugins whose scores already are.
    normalize_score: object

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


class ReservePlugin(Protocol):
    name: str

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        """Undo `reserve`; must be idempotent (it may run after a reserve that failed)."""


class BindPlugin(Protocol):
    name: str

    async def bind(self, pod: PodInfo, node_name: str, annotations: dict[str, str]) -> Status | None:
        """Bind the pod; SKIP to leave it to the next binder; raise (ApiError) when binding failed."""


def default_normalize_score(scores: list[int], reverse: bool = False) -> None:
    """Upstream's DefaultNormalizeScore: scale to 0..MAX_NODE_SCORE by the highest score (reversed:
    the highest becomes 0); when every score is 0, all stay 0 (reversed: all MAX_NODE_SCORE)."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - s if reverse else s


NO_NODES_MSG = "0/{} nodes are available"


@dataclass
class FitError:
    """No node fits the pod. `str()` is upstream's FitError text, the FailedScheduling message:
    `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {gpu: true}.`"""
    num_nodes: int
    reasons: dict[str, int] = field(default_factory=dict)   # reason -> how many nodes gave it
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def __str__(self) -> str:
        msg = NO_NODES_MSG.format(self.num_nodes) + ":"
        if self.pre_filter_msg:
            msg += f" {self.pre_filter_msg}."
        elif self.reasons:
            msg += f" {reason_histogram(self.reasons)}."
        if self.post_filter_msg:
            msg += f" {self.post_filter_msg}"
        return msg


def reason_counts(statuses) -> dict[str, int]:
    counts: dict[str, int] = {}
    for st in statuses:
        for r in st.reasons:
            counts[r] = counts.get(r, 0) + 1
    return counts


def reason_histogram(counts: dict[str, int]) -> str:
    """`1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}`: each reason with how many nodes
    gave it, sorted as strings, as upstream sorts them."""
    return ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))
