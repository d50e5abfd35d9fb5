"""The scheduler (`python -m minik8s.scheduler`): places pending pods on nodes through the API server.

Layout, after upstream kube-scheduler:
- `scheduler.py`  informers feed the cache and the queue; the loop; binding; events and pod status;
- `queue.py`      active, backoff and unschedulable pods;
- `cache.py`      NodeInfos with bound and assumed pods, and the log of which nodes changed;
- `nodeinfo.py`   PodInfo/NodeInfo: requests, allocatable, taints, ports, worked out once;
- `framework/`    the extension-point protocols, per-kind evaluations, the Framework running a profile;
- `plugins/`      one file per plugin (filters, scores, preemption, binder);
- `config.py`     KubeSchedulerConfiguration profiles; `metrics.py` attempts, latencies, queue depth."""
