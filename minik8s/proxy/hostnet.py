"""What the proxy needs from the host's network: a dummy interface holding the cluster IPs, and the
check that keeps the proxy's outgoing connections inside the cluster.

Cluster IPs: every ClusterIP is put as a /32 on a dummy interface of the proxy's own (`mk8s-s` and a
hash of the cluster home, so two clusters on one host never touch each other's addresses; a bridge
without ports where the kernel has no dummy driver). An
address on any interface is local to the host, so a pod whose default route points at its node's
bridge reaches `ClusterIP:port` by local delivery to the proxy's listening socket: no forwarding, no
NAT, nothing leaves the host. Needs root (netlink) and pyroute2.

Destinations: the proxy connects only to backends on a pod network this project made: the address
must lie in some Node's podCIDR *and* the host must reach it over a directly connected route (no
gateway) through one of the project's interfaces (`mk8s-*` bridges of the process runtime, `br-*`
bridges of the Docker runtime's networks). A pod IP of the fake runtime (no bridge), or an Endpoints
object someone wrote by hand naming any other address, is refused rather than sent out of the host."""
from __future__ import annotations

import errno
import hashlib
import ipaddress
import logging
import os

log = logging.getLogger("minik8s.proxy")

ROUTE_FILE = "/proc/net/route"
PROJECT_IFACE_PREFIXES = ("mk8s-", "br-")
RTF_GATEWAY = 0x2
RTF_UP = 0x1


def iface_name_for(home: str) -> str:
    """The dummy interface of the cluster whose home is `home` (at most 15 characters)."""
    return "mk8s-s" + hashlib.sha1(os.path.abspath(home).encode()).hexdigest()[:8]


def connected_routes(path: str = ROUTE_FILE) -> list[tuple[ipaddress.IPv4Network, str]]:
    """The main table's IPv4 routes without a gateway: (network, interface)."""
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        iface, dst, gateway, flags, mask = fields[0], fields[1], fields[2], int(fields[3], 16), fields[7]
        if not flags & RTF_UP or flags & RTF_GATEWAY or int(gateway, 16) != 0:
            continue
        try:
            net = ipaddress.IPv4Network((int.from_bytes(bytes.fromhex(dst), "little"),
                                         bin(int.from_bytes(bytes.fromhex(mask), "little")).count("1")))
        except ValueError:
            continue
        if net.prefixlen == 0:
            continue
        out.append((net, iface))
    return out


class DestinationPolicy:
    """Whether the proxy may open a connection to an address. A yes is cached for `ttl` seconds of the
    injected clock (a no for an eighth of that, so a bridge that has just appeared counts soon), so
    the check costs a dict lookup per new connection."""

    def __init__(self, pod_cidrs, clock, ttl: float = 2.0, route_reader=connected_routes,
                 prefixes: tuple[str, ...] = PROJECT_IFACE_PREFIXES):
        self._pod_cidrs = pod_cidrs          # callable -> iterable of CIDR strings (the Nodes' podCIDRs)
        self.clock = clock
        self.ttl = ttl
        self._routes = route_reader
        self.prefixes = prefixes
        self._cache: dict[str, tuple[bool, float]] = {}
        self._refused_logged: set[str] = set()

    def allowed(self, ip: str) -> bool:
        now = self.clock.monotonic()
        hit = self._cache.get(ip)
        if hit is not None and now - hit[1] < (self.ttl if hit[0] else self.ttl / 8):
            return hit[0]
        ok, why = self.check(ip)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[ip] = (ok, now)
        if not ok and ip not in self._refused_logged:
            if len(self._refused_logged) > 4096:
                self._refused_logged.clear()
            self._refused_logged.add(ip)
            log.warning("not proxying to %s: %s", ip, why)
        return ok

    def check(self, ip: str) -> tuple[bool, str]:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False, "not an IP address"
        if addr.version != 4:
            return False, "only IPv4 pod networks are supported"
        nets = []
        for cidr in self._pod_cidrs():
            try:
                nets.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                continue
        if not any(addr in n for n in nets):
            return False, "in no node's podCIDR"
        for net, iface in self._routes():
            if addr in net and iface.startswith(self.prefixes):
                return True, ""
        return False, "no pod bridge of this project on this host routes to it"


class ServiceAddresses:
    """The dummy interface holding the cluster IPs (as /32s). Every method is idempotent and blocking:
    pyroute2's IPRoute runs an event loop of its own, so call these from a thread (the proxy keeps
    one worker thread for them), never from a coroutine."""

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
