"""Pod networking for runtimes that run pods as host processes: a bridge per node holding the gateway
address of the node's pod CIDR, and per pod a network namespace (`/var/run/netns/mk8s-...`) joined to
the bridge by a veth pair, whose pod end is the pod's eth0 with an address from `IPAM`.

The host reaches every pod IP through the bridge's connected route. Pods reach the host and the node's
other pods; forwarding is switched off on the bridge, so nothing a pod sends is routed further (not to
other machines, nor to other nodes' bridges on this host), whatever the host's ip_forward. No NAT.
All netlink work goes through pyroute2; setup and teardown are idempotent, so a kubelet that crashed
half-way through either simply runs it again. Namespaces are created and entered by one short-lived
thread at a time (a network namespace is a per-thread property), never by forking: pyroute2's own
netns helpers fork, which crashes a process that runs gRPC threads. The few namespace syscalls live
here, and the runtime's shim uses them too."""
from __future__ import annotations

import ctypes
import errno
import hashlib
import importlib.util
import ipaddress
import os
import threading

NETNS_DIR = "/var/run/netns"
IFNAMSIZ = 15

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MS_SHARED = 1, 32, 4096, 16384, 1 << 18, 1 << 20
MNT_DETACH = 2

libc = ctypes.CDLL(None, use_errno=True)


def check(rc: int, what: str) -> None:
    """Raises the OSError a libc call's -1 stands for."""
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def setns(path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        check(libc.setns(fd, nstype), f"setns {path}")
    finally:
        os.close(fd)


def mount(source: str | None, target: str, flags: int) -> None:
    check(libc.mount(source and source.encode(), target.encode(), None, flags, None),
          f"mount {source or ''} on {target}")


def _in_fresh_thread(fn):
    """Runs fn on a thread of its own, which may switch namespaces and then dies with them."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as e:
            result["error"] = e
    t = threading.Thread(target=run, name="mk8s-netns")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def _in_netns(path: str, fn):
    """fn() run inside the network namespace at `path`."""
    def enter_then_run():
        setns(path, CLONE_NEWNET)
        return fn()
    return _in_fresh_thread(enter_then_run)


def _create_netns(path: str) -> None:
    """`ip netns add`, as iproute2 does it: a fresh namespace bind-mounted on a file in a shared
    NETNS_DIR (shared, so the mount shows in every mount namespace, the containers' included)."""
    os.makedirs(NETNS_DIR, exist_ok=True)
    if libc.mount(b"", NETNS_DIR.encode(), b"none", MS_SHARED | MS_REC, None) != 0:
        mount(NETNS_DIR, NETNS_DIR, MS_BIND | MS_REC)     # not a mount point yet: make it one
        mount(None, NETNS_DIR, MS_SHARED | MS_REC)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))

    def unshare_and_pin():
        check(libc.unshare(CLONE_NEWNET), "unshare")
        mount("/proc/thread-self/ns/net", path, MS_BIND)
    try:
        _in_fresh_thread(unshare_and_pin)
    except BaseException:
        os.unlink(path)
        raise


def _remove_netns(path: str) -> None:
    libc.umount2(path.encode(), MNT_DETACH)
    os.unlink(path)


def _digest(s: str, n: int) -> str:
    return hashlib.sha1(s.encode()).hexdigest()[:n]


class IPAM:
    """host-local style address allocation: one file per address in use, named by the address and
    holding its owner, created with O_EXCL so two allocators never hand out one address. The files
    outlive the process, so a restarted kubelet does not reuse the IPs of pods still running.
    Allocation goes round-robin from the last address handed out, so a released IP is not reused at
    once (a peer may still hold connections to it)."""

    def __init__(self, cidr: ipaddress.IPv4Network, state_dir: str, reserved: set[ipaddress.IPv4Address]):
        self.cidr = cidr
        self.state_dir = state_dir
        self._reserved = reserved | {cidr.network_address, cidr.broadcast_address}
        os.makedirs(state_dir, exist_ok=True)

    def _last(self) -> str:
        return os.path.join(self.state_dir, "last_reserved_ip")

    def _allocations(self) -> dict[str, str]:
        """address -> owner"""
        out = {}
        for name in os.listdir(self.state_dir):
            if name[0].isdigit():
                try:
                    with open(os.path.join(self.state_dir, name)) as f:
                        out[name] = f.read()
                except FileNotFoundError:
                    pass
        return out

    def lookup(self, owner: str) -> str | None:
        return next((ip for ip, o in self._allocations().items() if o == owner), None)

    def allocate(self, owner: str) -> str:
        held = self.lookup(owner)
        if held:
            return held
        try:
            with open(self._last()) as f:
                start = int(ipaddress.IPv4Address(f.read().strip())) + 1
        except (FileNotFoundError, ValueError):
            start = int(self.cidr.network_address) + 1
        first, size = int(self.cidr.network_address), self.cidr.num_addresses
        for i in range(size):
            ip = ipaddress.IPv4Address(first + (start - first + i) % size)
            if ip in self._reserved:
                continue
            try:
                fd = os.open(os.path.join(self.state_dir, str(ip)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as f:
                f.write(owner)
            with open(self._last(), "w") as f:
                f.write(str(ip))
            return str(ip)
        raise OSError(errno.ENOSPC, f"no free address left in {self.cidr}")

    def release(self, owner: str) -> None:
        for ip, o in self._allocations().items():
            if o == owner:
                try:
                    os.unlink(os.path.join(self.state_dir, ip))
                except FileNotFoundError:
                    pass


class PodNetwork:
    """The node's bridge and its pods' namespaces. `setup`/`teardown` are keyed by pod UID. The methods
    block, and pyroute2's synchronous API refuses to run on a thread with a running event loop: from
    asyncio, call them through `asyncio.to_thread`."""

    def __init__(self, node_name: str, pod_cidr: str, state_dir: str):
        self.node_name = node_name
        self.cidr = ipaddress.IPv4Network(pod_cidr)
        self.gateway = str(self.cidr.network_address + 1)
        self.bridge_name = "mk8s-" + _digest(node_name, IFNAMSIZ - len("mk8s-"))
        self.state_dir = state_dir
        self._ipam = IPAM(self.cidr, os.path.join(state_dir, "ipam"),
                          reserved={ipaddress.IPv4Address(self.gateway)})

    def available(self) -> str | None:
        if os.geteuid() != 0:
            return "pod networking needs root (network namespaces, veth pairs, a bridge)"
        if not os.path.exists("/proc/self/ns/net"):
            return "this kernel has no network namespaces"
        if importlib.util.find_spec("pyroute2") is None:
            return "pod networking needs pyroute2 (pip install minik8s[kubelet])"
        return None

    @staticmethod
    def netns_name(pod_uid: str) -> str:
        prefix = "".join(c for c in pod_uid if c.isalnum())[:12]
        return f"mk8s-{prefix}-{_digest(pod_uid, 8)}"

    def netns_path(self, pod_uid: str) -> str:
        return os.path.join(NETNS_DIR, self.netns_name(pod_uid))

    @staticmethod
    def _veth_names(pod_uid: str) -> tuple[str, str]:
        """(host end, pod end before it is renamed eth0 inside the namespace)"""
        h = _digest(pod_uid, IFNAMSIZ - 4)
        return "mkv" + h, "mkp" + h

    def pod_ip(self, pod_uid: str) -> str | None:
        return self._ipam.lookup(pod_uid)

    def setup(self, pod_uid: str) -> str:
        """Creates (or completes) the pod's namespace and link and returns its IP."""
        ip = self._ipam.allocate(pod_uid)
        try:
            self._setup(pod_uid, ip)
        except BaseException:
            self.teardown(pod_uid)
            raise
        return ip

    def _setup(self, pod_uid: str, ip: str) -> None:
        from pyroute2 import IPRoute

        path = self.netns_path(pod_uid)
        host_end, pod_end = self._veth_names(pod_uid)
        with IPRoute() as ipr:
            bridge = self._ensure_bridge(ipr)
            if not os.path.exists(path):
                _create_netns(path)
            if not ipr.link_lookup(ifname=host_end):
                ipr.link("add", ifname=host_end, kind="veth", peer={"ifname": pod_end})
            host_idx = ipr.link_lookup(ifname=host_end)[0]
            ipr.link("set", index=host_idx, master=bridge, state="up")
            pod_idx = ipr.link_lookup(ifname=pod_end)
            if pod_idx:   # still on the host: move it into the pod
                ipr.link("set", index=pod_idx[0], net_ns_fd=path)

        def configure_pod_side():
            with IPRoute() as ns:      # opened inside the pod's namespace
                eth0 = ns.link_lookup(ifname="eth0") or ns.link_lookup(ifname=pod_end)
                if not eth0:
                    raise OSError(errno.ENODEV, f"the pod end of {host_end} is in neither the host nor {path}")
                idx = eth0[0]
                ns.link("set", index=idx, ifname="eth0")
                _ensure(lambda: ns.addr("add", index=idx, address=ip, prefixlen=self.cidr.prefixlen))
                ns.link("set", index=idx, state="up")
                ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
                ns.route("replace", dst="0.0.0.0/0", gateway=self.gateway)
        _in_netns(path, configure_pod_side)

    def _ensure_bridge(self, ipr) -> int:
        found = ipr.link_lookup(ifname=self.bridge_name)
        if not found:
            _ensure(lambda: ipr.link("add", ifname=self.bridge_name, kind="bridge"))
            found = ipr.link_lookup(ifname=self.bridge_name)
        idx = found[0]
        _ensure(lambda: ipr.addr("add", index=idx, address=self.gateway, prefixlen=self.cidr.prefixlen))
        ipr.link("set", index=idx, state="up")
        # packets from pods are never routed on to other interfaces, whatever the host's ip_forward
        # (Docker turns it on): pods reach the host and each other, and nothing leaves the machine
        with open(f"/proc/sys/net/ipv4/conf/{self.bridge_name}/forwarding", "w") as f:
            f.write("0")
        return idx

    def teardown(self, pod_uid: str) -> None:
        """Removes the pod's link, namespace and address; a no-op for what is already gone."""
        from pyroute2 import IPRoute

        host_end, pod_end = self._veth_names(pod_uid)
        with IPRoute() as ipr:
            for ifname in (host_end, pod_end):   # deleting one end of a veth deletes both
                for idx in ipr.link_lookup(ifname=ifname):
                    _ensure(lambda: ipr.link("del", index=idx), errno.ENODEV)
        path = self.netns_path(pod_uid)
        if os.path.exists(path):
            _remove_netns(path)
        self._ipam.release(pod_uid)

    def remove_bridge(self) -> None:
        """Removes the node's bridge (a node leaving for good, or tests). Pods must be torn down first."""
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            for idx in ipr.link_lookup(ifname=self.bridge_name):
                _ensure(lambda: ipr.link("del", index=idx), errno.ENODEV)


def _ensure(op, tolerated: int = errno.EEXIST) -> None:
    """Runs a netlink request, accepting the one error that means it was already done."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        op()
    except NetlinkError as e:
        if e.code != tolerated:
            raise
