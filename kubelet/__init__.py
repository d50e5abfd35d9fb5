"""The minik8s node agent (kubelet): registers its Node, runs the pods bound to it through a container
runtime, probes them, reports their status, and serves their logs and exec through the node tunnel."""
