"""What the proxy needs from the host's network beyond the ClusterIP addresses themselves (held on an
interface of the proxy's own, `mk8s-s` and a hash of the cluster home: minik8s.client.hostaddr): the
check that keeps the proxy's outgoing connections inside the cluster.

Destinations: the proxy connects only to backends on a pod network this project made: the address
must lie in some Node's podCIDR *and* the host must reach it over a directly connected route (no
gateway) through one of the project's interfaces (`mk8s-*` bridges of the process runtime, `br-*`
bridges of the Docker runtime's networks). A pod IP of the fake runtime (no bridge), or an Endpoints
object someone wrote by hand naming any other address, is refused rather than sent out of the host.
One destination outside the pod networks is allowed: the API server's REST API, its listen address
and port exactly (the endpoint of the `kubernetes` Service), read from the cluster home."""
from __future__ import annotations

import ipaddress
import logging
import os

log = logging.getLogger("minik8s.proxy")

ROUTE_FILE = "/proc/net/route"
PROJECT_IFACE_PREFIXES = ("mk8s-", "br-")
RTF_GATEWAY = 0x2
RTF_UP = 0x1


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


def api_server_endpoint(home: str, server: str):
    """A callable giving (address, port) of the API server's REST API: the host of `server` (the gRPC
    address clients use; loopback for `localhost`) and the port in HOME/run/rest.port, or None while
    that file is missing."""
    host = server.rsplit(":", 1)[0].strip("[]") if ":" in server else server
    host = "127.0.0.1" if host in ("", "localhost") else host

    def endpoint() -> tuple[str, int] | None:
        try:
            with open(os.path.join(home, "run", "rest.port")) as f:
                return host, int(f.read().strip())
        except (OSError, ValueError):
            return None
    return endpoint


class DestinationPolicy:
    """Whether the proxy may open a connection to an address. A yes is cached for `ttl` seconds of the
    injected clock (a no for an eighth of that, so a bridge that has just appeared counts soon), so
    the check costs a dict lookup per new connection."""

    def __init__(self, pod_cidrs, clock, ttl: float = 2.0, route_reader=connected_routes,
                 prefixes: tuple[str, ...] = PROJECT_IFACE_PREFIXES, api_server=None):
        self._pod_cidrs = pod_cidrs          # callable -> iterable of CIDR strings (the Nodes' podCIDRs)
        self._api_server = api_server        # callable -> (address, port) of the REST API, or None
        self._api_server_seen: tuple[tuple[str, int] | None, float] = (None, float("-inf"))
        self.clock = clock
        self.ttl = ttl
        self._routes = route_reader
        self.prefixes = prefixes
        self._cache: dict[str, tuple[bool, float]] = {}
        self._refused_logged: set[str] = set()

    def api_server(self) -> tuple[str, int] | None:
        """The REST API's (address, port), read again after `ttl` seconds."""
        now = self.clock.monotonic()
        endpoint, at = self._api_server_seen
        if self._api_server is not None and now - at >= self.ttl:
            endpoint = self._api_server()
            self._api_server_seen = (endpoint, now)
        return endpoint

    def allowed(self, ip: str, port: int | None = None) -> bool:
        if port is not None and (ip, port) == self.api_server():
            return True
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
