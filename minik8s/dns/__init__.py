"""Cluster DNS (upstream kube-dns / CoreDNS's kubernetes plugin): one per cluster, a control-plane
component started by `minictl up` as `python -m minik8s.dns --home HOME --token-file FILE
--cluster-ip IP`.

It watches Services, Endpoints and Pods through the API server (informers; no query reaches the
server) and answers the cluster zone (`cluster.local` unless --cluster-domain says otherwise) as the
Kubernetes DNS specification asks: services, their named ports, headless services' ready endpoints and
pods with a hostname and subdomain (StatefulSet pods, Indexed Job workers); NXDOMAIN for what does not
exist; every other name forwarded to the host's resolvers (HOME-independent: /etc/resolv.conf).

Where pods reach it: the `kube-dns` Service's ClusterIP (10.96.0.10, the tenth address of the service
range, as kubeadm picks it), held on a dummy interface of its own (address.py), on port 53 over UDP and
TCP. Pods of both runtimes route to the host, so one address serves them all, and the kubelets write it
into each pod's resolv.conf (kubelet/dns.py, from cluster.yaml `kubelet.clusterDNS`).

Not done (upstream has them): AAAA for IPv4-only services beyond NODATA, wildcard queries, the
`pods insecure` mode, ExternalName answers chased to the target's address, caching forwarded answers,
metrics on 9153.

Files: records.py (the zone from the caches), server.py (UDP/TCP, truncation), forward.py (upstreams),
app.py (informers and listeners put together), address.py (the cluster IP on the host)."""
