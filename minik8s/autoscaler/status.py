"""The autoscaler's status, as upstream writes it: the ConfigMap `cluster-autoscaler-status` in
kube-system, key `status` (YAML, the newer format: cluster-wide and per node group health, scale-up and
scale-down), annotated `cluster-autoscaler.kubernetes.io/last-updated`. Each node group also carries
two fields of minik8s's own, which `minictl get nodegroups` prints: `lastDecision`, what the autoscaler
last did to it and why, and `nodeSeconds`, the seconds its nodes have been registered, summed (what
the group has cost since the autoscaler started)."""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from minik8s.api.clock import rfc3339


@dataclass
class GroupStatus:
    name: str
    min: int
    max: int
    registered: int = 0
    ready: int = 0
    target: int = 0
    scale_up: str = "NoActivity"          # NoActivity | InProgress | Backoff
    candidates: int = 0
    last_decision: str = ""
    node_seconds: int = 0


@dataclass
class ClusterStatus:
    groups: list = field(default_factory=list)
    registered: int = 0
    ready: int = 0

    def to_yaml(self, now: float) -> str:
        ts = rfc3339(now)

        def health(registered, ready):
            return {"status": "Healthy" if ready == registered else "Unhealthy",
                    "nodeCounts": {"registered": {"total": registered, "ready": ready,
                                                  "notStarted": registered - ready}}}
        scale_up = "InProgress" if any(g.scale_up == "InProgress" for g in self.groups) else "NoActivity"
        candidates = sum(g.candidates for g in self.groups)
        doc = {
            "time": ts,
            "autoscalerStatus": "Running",
            "clusterWide": {
                "health": health(self.registered, self.ready),
                "scaleUp": {"status": scale_up},
                "scaleDown": {"status": "CandidatesPresent" if candidates else "NoCandidates",
                              "candidates": candidates}},
            "nodeGroups": [{
                "name": g.name,
                "health": {**health(g.registered, g.ready), "cloudProviderTarget": g.target,
                           "minSize": g.min, "maxSize": g.max},
                "scaleUp": {"status": g.scale_up},
                "scaleDown": {"status": "CandidatesPresent" if g.candidates else "NoCandidates",
                              "candidates": g.candidates},
                "lastDecision": g.last_decision,
                "nodeSeconds": g.node_seconds} for g in self.groups],
        }
        return yaml.safe_dump(doc, sort_keys=False)

