"""The service proxy (upstream kube-proxy, in its old userspace mode): one per node, beside the
kubelet, started by `minictl up` as `python -m minik8s.proxy --home HOME --node-name NODE
--token-file FILE`.

It watches Services, Endpoints, Pods and Nodes through the API server and load-balances TCP
connections to the ready endpoints of each service port:

- from the host at `127.0.0.1:<nodePort>` for NodePort (and LoadBalancer) services
  (`--nodeport-addresses` adds others, `0.0.0.0` only when asked);
- from pods at `ClusterIP:port`: the proxy puts every cluster IP on a dummy interface of its own, so a
  pod's packets to it, routed to the host through the pod bridge's gateway, are delivered locally
  to the proxy's listening socket (needs root; without it the log says why and only NodePorts work).

Each new connection goes round robin to the next usable endpoint; one that refuses (or does not
answer within a second) is skipped for the next, so the client sees no error while any endpoint
takes it. Endpoint changes arrive by watch (no polling): a pod whose readiness probe fails, or that
is being deleted, gets no new connection from the moment the proxy's pod watch says so, even before
the Endpoints object is rewritten. The proxy only ever connects to pod IPs on this project's pod
bridges (see hostnet.py).

All the proxies of one cluster on one host share its network stack, so one serves (it holds
HOME/run/proxy.lock) and the others stand by with warm caches. One that stops hands a standby its
listening sockets and stops accepting only once that one serves them, so no connection is refused
(one that dies just leaves, and a standby takes over the moment it goes). A
proxy of another cluster on the same host cannot take a port this one holds: it logs that and retries,
rather than silently sharing it.

Not done (upstream has them): UDP and SCTP ports, sessionAffinity ClientIP, externalTrafficPolicy /
internalTrafficPolicy Local, externalIPs and LoadBalancer ingress addresses, NodePorts on the node's
other addresses unless --nodeport-addresses names them.

Files: proxier.py (informers, work queue, `sync_service(key)`, active/standby per host), tcp.py (the
data path), handover.py (a stopping proxy's sockets passed to a standby), hostnet.py (the cluster-IP
interface and the destination check)."""
