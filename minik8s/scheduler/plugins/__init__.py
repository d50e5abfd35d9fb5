"""The built-in plugins, by the names a scheduler configuration uses (upstream's, plus NodeBusyness)."""
from minik8s.scheduler.plugins.balanced_allocation import BalancedAllocation
from minik8s.scheduler.plugins.default_binder import DefaultBinder
from minik8s.scheduler.plugins.default_preemption import DefaultPreemption
from minik8s.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from minik8s.scheduler.plugins.node_affinity import NodeAffinity
from minik8s.scheduler.plugins.node_busyness import NodeBusyness
from minik8s.scheduler.plugins.node_ports import NodePorts
from minik8s.scheduler.plugins.node_resources_fit import NodeResourcesFit
from minik8s.scheduler.plugins.node_unschedulable import NodeUnschedulable
from minik8s.scheduler.plugins.taint_toleration import TaintToleration
from minik8s.scheduler.plugins.volume_binding import VolumeBinding

REGISTRY = {cls.name: cls for cls in (NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
                                      NodeResourcesFit, VolumeBinding, InterPodAffinity, BalancedAllocation,
                                      NodeBusyness, DefaultPreemption, DefaultBinder)}
