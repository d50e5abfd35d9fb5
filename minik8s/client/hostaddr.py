"""Addresses held on the host: a dummy interface of the cluster's own (one per purpose, named after a
hash of the cluster home) carrying /32s. An address on any interface is local to the host, so packets
to it, routed to the host by a pod's default route through the pod bridge or Docker's network, reach
the sockets of whoever listens on it: no forwarding, no NAT, nothing leaves the host. The service
proxy holds the ClusterIPs this way and the cluster DNS server its own Service address. Needs root
(netlink) and pyroute2."""
from __future__ import annotations

import errno
import hashlib
import os


def iface_name_for(home: str, purpose: str) -> str:
    """The interface of the cluster whose home is `home` for `purpose` (one letter: `s` the service
    proxy's ClusterIPs, `d` the DNS server's address): `mk8s-` + purpose + 8 hex digits, at most 15
    characters as the kernel allows."""
    return f"mk8s-{purpose}" + hashlib.sha1(os.path.abspath(home).encode()).hexdigest()[:8]


class HostAddresses:
    """A dummy interface of our own holding addresses as /32s. Every method is idempotent and blocking:
    pyroute2's IPRoute runs an event loop of its own, so call these from a thread, never from a
    coroutine."""

    def __init__(self, ifname: str):
        self.ifname = ifname
        self._ipr = None

    @staticmethod
    def unavailable() -> str | None:
        """Why cluster IPs cannot be served here, or None."""
        if os.geteuid() != 0:
            return "putting cluster IPs on a host interface needs root"
        try:
            import pyroute2  # noqa: F401
        except ImportError:
            return "putting cluster IPs on a host interface needs pyroute2 (pip install pyroute2)"
        return None

    def _ip(self):
        if self._ipr is None:
            from pyroute2 import IPRoute
            self._ipr = IPRoute()
        return self._ipr

    def _index(self, create: bool = True) -> int | None:
        from pyroute2.netlink.exceptions import NetlinkError
        ipr = self._ip()
        found = ipr.link_lookup(ifname=self.ifname)
        if not found:
            if not create:
                return None
            try:
                _tolerate(lambda: ipr.link("add", ifname=self.ifname, kind="dummy"), errno.EEXIST)
            except NetlinkError as e:
                if e.code != errno.EOPNOTSUPP:
                    raise
                # no dummy driver in this kernel: a bridge without ports holds addresses just as well
                _tolerate(lambda: ipr.link("add", ifname=self.ifname, kind="bridge"), errno.EEXIST)
            found = ipr.link_lookup(ifname=self.ifname)
            ipr.link("set", index=found[0], state="up")
        return found[0]

    def current(self) -> set[str]:
        idx = self._index(create=False)
        if idx is None:
            return set()
        return {a.get_attr("IFA_ADDRESS") for a in self._ip().get_addr(index=idx, family=2)}

    def add(self, ip: str) -> None:
        idx = self._index()
        ipr = self._ip()
        _tolerate(lambda: ipr.addr("add", index=idx, address=ip, prefixlen=32), errno.EEXIST)
        ipr.link("set", index=idx, state="up")

    def remove(self, ip: str) -> None:
        idx = self._index(create=False)
        if idx is None:
            return
        ipr = self._ip()
        _tolerate(lambda: ipr.addr("del", index=idx, address=ip, prefixlen=32), errno.EADDRNOTAVAIL)

    def sync(self, wanted: set[str]) -> None:
        """Make the interface hold exactly `wanted`."""
        have = self.current()
        for ip in sorted(wanted - have):
            self.add(ip)
        for ip in sorted(have - wanted):
            self.remove(ip)

    def delete(self) -> None:
        idx = self._index(create=False)
        if idx is not None:
            _tolerate(lambda: self._ip().link("del", index=idx), errno.ENODEV)

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


def _tolerate(op, code: int) -> None:
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        op()
    except NetlinkError as e:
        if e.code != code:
            raise
