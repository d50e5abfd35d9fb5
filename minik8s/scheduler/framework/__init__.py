"""The scheduling framework: extension-point protocols, per-kind evaluations, and the Framework that
runs a profile's plugins for one pod."""
from minik8s.scheduler.framework.framework import Decision, Failure, Framework, Handle
from minik8s.scheduler.framework.interface import (MAX_NODE_SCORE, SKIP, Code, CycleState, FitError,
                                                   PostFilterResult, Status, default_normalize_score,
                                                   unschedulable)

__all__ = ["Framework", "Handle", "Decision", "Failure", "Code", "Status", "CycleState", "FitError",
           "PostFilterResult", "MAX_NODE_SCORE", "SKIP", "default_normalize_score", "unschedulable"]
