"""The cluster DNS address on the host: the `kube-dns` Service's ClusterIP, as a /32 on an interface of
the DNS server's own (`mk8s-d` and a hash of the cluster home; see minik8s.client.hostaddr). Pods'
packets to it, on either runtime, are delivered to the server's sockets. The service proxy makes
ClusterIPs local the same way but only serves TCP to pod endpoints; the DNS server is no pod and
speaks UDP, so it holds its own address. Blocking calls: run them in a thread."""
from __future__ import annotations

from minik8s.client.hostaddr import HostAddresses, iface_name_for


def dns_iface(home: str) -> str:
    """The DNS interface of the cluster whose home is `home`."""
    return iface_name_for(home, "d")


def hold(ifname: str, ip: str) -> None:
    """Make `ifname` exist, be up, and hold `ip`/32 (idempotent)."""
    addrs = HostAddresses(ifname)
    try:
        addrs.add(ip)
    finally:
        addrs.close()


def release(ifname: str) -> None:
    """Remove the interface, and its address with it (idempotent)."""
    addrs = HostAddresses(ifname)
    try:
        addrs.delete()
    finally:
        addrs.close()
