"""The cluster DNS address on the host: the `kube-dns` Service's ClusterIP, as a /32 on a dummy interface
of the DNS server's own (`mk8s-d` and a hash of the cluster home). An address on any interface is local
to the host, so a pod's packets to it (routed to the host by the pod's default route, through the
process runtime's bridge or the Docker runtime's network) are delivered to the server's sockets: no
forwarding, no NAT, nothing leaves the host, and the same on both runtimes. The service proxy makes
ClusterIPs local the same way, but only serves TCP to pod endpoints; the DNS server is no pod and
speaks UDP, so it holds its own address. Needs root (netlink) and pyroute2; blocking calls (pyroute2
runs a loop of its own): run them in a thread."""
from __future__ import annotations

import errno
import hashlib
import os


def iface_name_for(home: str) -> str:
    """The DNS interface of the cluster whose home is `home` (at most 15 characters)."""
    return "mk8s-d" + hashlib.sha1(os.path.abspath(home).encode()).hexdigest()[:8]


def hold(ifname: str, ip: str) -> None:
    """Make `ifname` exist, be up, and hold `ip`/32 (idempotent)."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=ifname):
            try:
                _tolerate(lambda: ipr.link("add", ifname=ifname, kind="dummy"), errno.EEXIST)
            except NetlinkError as e:
                if e.code != errno.EOPNOTSUPP:
                    raise
                # no dummy driver in this kernel: a bridge without ports holds an address just as well
                _tolerate(lambda: ipr.link("add", ifname=ifname, kind="bridge"), errno.EEXIST)
        idx = ipr.link_lookup(ifname=ifname)[0]
        _tolerate(lambda: ipr.addr("add", index=idx, address=ip, prefixlen=32), errno.EEXIST)
        ipr.link("set", index=idx, state="up")


def release(ifname: str) -> None:
    """Remove the interface, and its address with it (idempotent)."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        for idx in ipr.link_lookup(ifname=ifname):
            _tolerate(lambda: ipr.link("del", index=idx), errno.ENODEV)


def _tolerate(op, code: int) -> None:
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        op()
    except NetlinkError as e:
        if e.code != code:
            raise
