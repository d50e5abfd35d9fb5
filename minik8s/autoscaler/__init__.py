"""The cluster autoscaler (`python -m minik8s.autoscaler`, started by `minictl up` when the cluster file
declares `nodeGroups`), after upstream's cluster-autoscaler: it adds nodes of a group for pods the
scheduler marked unschedulable, and drains and removes nodes that are not needed, consolidating pods on
fewer nodes. Nodes come and go through a provider (`provider.py`); the fit rules are the scheduler's,
shared through `minik8s.api.nodefit`."""
