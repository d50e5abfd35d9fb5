"""Pod networking for runtimes that run pods as host processes: a bridge per node holding the gateway
address of the node's pod CIDR, and per pod a network namespace (`/var/run/netns/mk8s-...`) joined to
the bridge by a veth pair, whose pod end is the pod's eth0 with an address from `IPAM`.

The host reaches every pod IP through the bridge's connected route. Pods reach the host, the node's
other pods, and (as upstream: every pod reaches every pod) the pods on the other nodes' bridges of this
host: forwarding is switched on for the bridge, and an iptables chain MINIK8S-FORWARD, jumped to first
from FORWARD and from Docker's DOCKER-USER, accepts what goes from one `mk8s-*` interface to another
and drops everything else a pod sends (so nothing leaves the machine) and everything routed into a pod
from elsewhere. Should the rules fail to go in, forwarding stays off on the bridge. No NAT.
Addresses come from a host-wide allocation state per bridge (IPAM_ROOT/<bridge>): bridges are
host-wide, one per node name, so two clusters with a node-1 share one and must never share an address.
A node records its use of the bridge (kubelet/hostclaims.py) and each pod it sets up (a file per pod
UID under its state directory), so that `remove_node_network` takes away what the node made, a crash's
leftovers included, and the bridge only once no other cluster's node of that name uses it.
All netlink work goes through pyroute2; setup and teardown are idempotent, so a kubelet that crashed
half-way through either simply runs it again. Namespaces are created and entered by one short-lived
thread at a time (a network namespace is a per-thread property), never by forking: pyroute2's own
netns helpers fork, which crashes a process that runs gRPC threads (the iptables binary is run by
subprocess, which execs at once). The few namespace syscalls live here, and the runtime's shim uses
them too: the shim imports this module on every container start, so only what those syscalls need is
imported with it, and the rest (hashlib, ipaddress, logging, subprocess, threading...) where it is used."""
from __future__ import annotations

import ctypes
import errno
import os
import time

NETNS_DIR = "/var/run/netns"
IFNAMSIZ = 15
BRIDGE_PREFIX = "mk8s-"
# the address allocations, per bridge, for the whole host (on tmpfs: they go with the bridges at reboot)
IPAM_ROOT = "/run/minik8s/ipam"
FORWARD_CHAIN = "MINIK8S-FORWARD"
# in order: pod to pod across the host's mk8s bridges; nothing else out of a pod; nothing else into one
FORWARD_RULES = (["-i", BRIDGE_PREFIX + "+", "-o", BRIDGE_PREFIX + "+", "-j", "ACCEPT"],
                 ["-i", BRIDGE_PREFIX + "+", "-j", "DROP"],
                 ["-o", BRIDGE_PREFIX + "+", "-j", "DROP"])
_IPTABLES_LOCK = "/run/minik8s/iptables.lock"

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MS_SHARED = 1, 32, 4096, 16384, 1 << 18, 1 << 20
MNT_DETACH = 2
IFF_UP = 1

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
    import threading
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


def _log():
    import logging
    return logging.getLogger("kubelet.network")


def _digest(s: str, n: int) -> str:
    import hashlib
    return hashlib.sha1(s.encode()).hexdigest()[:n]


class IPAM:
    """host-local style address allocation: one file per address in use, named by the address and
    holding its owner, created with O_EXCL so two allocators (two kubelets, even of two clusters) never
    hand out one address. The files outlive the process, so a restarted kubelet does not reuse the IPs
    of pods still running. Allocation goes round-robin from the last address handed out, so a released
    IP is not reused at once (a peer may still hold connections to it), unless no address at all is
    held any more: then it starts from the first again, as a fresh cluster does. When the range is
    full, the allocations that `is_stale(owner)` calls leftovers (and older than STALE_AFTER_S, so none
    that is being set up right now) are reclaimed: a cluster removed while its pods ran leaves them.
    The directory is made on the first allocation: without root (so without a pod network) the
    host-wide one could not be."""

    STALE_AFTER_S = 60.0

    def __init__(self, cidr: ipaddress.IPv4Network, state_dir: str, reserved: set[ipaddress.IPv4Address],
                 is_stale=None):
        self.cidr = cidr
        self.state_dir = state_dir
        self._reserved = reserved | {cidr.network_address, cidr.broadcast_address}
        self._is_stale = is_stale

    def _last(self) -> str:
        return os.path.join(self.state_dir, "last_reserved_ip")

    def _allocations(self) -> dict[str, str]:
        """address -> owner"""
        out = {}
        try:
            names = os.listdir(self.state_dir)
        except FileNotFoundError:
            return out
        for name in names:
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
        os.makedirs(self.state_dir, exist_ok=True)
        ip = self._allocate(owner)
        if ip is None and self._reclaim_stale():
            ip = self._allocate(owner)
        if ip is None:
            raise OSError(errno.ENOSPC, f"no free address left in {self.cidr}")
        return ip

    def _allocate(self, owner: str) -> str | None:
        import ipaddress
        try:
            if not self._allocations():
                raise FileNotFoundError   # nothing on the bridge holds an address: start from the first
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
        return None

    def _reclaim_stale(self) -> int:
        if self._is_stale is None:
            return 0
        n = 0
        for ip, owner in self._allocations().items():
            path = os.path.join(self.state_dir, ip)
            try:
                old = time.time() - os.stat(path).st_mtime > self.STALE_AFTER_S
            except FileNotFoundError:
                continue
            if old and self._is_stale(owner):
                _log().info("reclaiming %s from %s, whose network namespace is gone", ip, owner)
                try:
                    os.unlink(path)
                    n += 1
                except FileNotFoundError:
                    pass
        return n

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

    def __init__(self, node_name: str, pod_cidr: str, state_dir: str, ipam_root: str | None = None):
        """`state_dir`: the node's own state (HOME's); the address allocations are host-wide, under
        `ipam_root` (default IPAM_ROOT), like the bridge they are for."""
        import ipaddress
        self.node_name = node_name
        self.cidr = ipaddress.IPv4Network(pod_cidr)
        self.gateway = str(self.cidr.network_address + 1)
        self.bridge_name = BRIDGE_PREFIX + _digest(node_name, IFNAMSIZ - len(BRIDGE_PREFIX))
        self.state_dir = state_dir
        self._ipam = IPAM(self.cidr, os.path.join(ipam_root or IPAM_ROOT, self.bridge_name),
                          reserved={ipaddress.IPv4Address(self.gateway)},
                          is_stale=lambda owner: not os.path.exists(self.netns_path(owner)))

    def available(self) -> str | None:
        if os.geteuid() != 0:
            return "pod networking needs root (network namespaces, veth pairs, a bridge)"
        if not os.path.exists("/proc/self/ns/net"):
            return "this kernel has no network namespaces"
        import importlib.util
        if importlib.util.find_spec("pyroute2") is None:
            return "pod networking needs pyroute2 (pip install pyroute2)"
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

    def _pods_dir(self) -> str:
        return os.path.join(self.state_dir, "pods")

    def _claim(self) -> None:
        from kubelet import hostclaims
        os.makedirs(self._pods_dir(), exist_ok=True)
        hostclaims.claim(self.bridge_name, self.state_dir)

    def setup(self, pod_uid: str) -> str:
        """Creates (or completes) the pod's namespace and link and returns its IP."""
        self._claim()
        # recorded before anything is made, so that a crash half-way leaves nothing unaccounted for
        open(os.path.join(self._pods_dir(), pod_uid), "a").close()
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
                # the pod end is made in the pod's namespace: moving it there afterwards would cost a
                # network-wide synchronization in the kernel (some 15 ms, most of a sandbox's setup)
                ipr.link("add", ifname=host_end, kind="veth", peer={"ifname": pod_end, "net_ns_fd": path})
            host_idx = ipr.link_lookup(ifname=host_end)[0]
            ipr.link("set", index=host_idx, master=bridge, state="up")
            pod_idx = ipr.link_lookup(ifname=pod_end)
            if pod_idx:   # still on the host (a setup interrupted by an older kubelet): move it into the pod
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

    def ensure_bridge(self) -> None:
        """The node's bridge, up and holding the gateway address; made (as a pod's setup would) when it
        is not, so a node knows before its first pod whether pods can get a network."""
        from pyroute2 import IPRoute

        self._claim()
        with IPRoute() as ipr:
            if not self._bridge_up(ipr):
                self._ensure_bridge(ipr)

    def _bridge_up(self, ipr) -> bool:
        found = ipr.link_lookup(ifname=self.bridge_name)
        if not found:
            return False
        link = ipr.get_links(found[0])[0]
        addresses = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=found[0])}
        return bool(link["flags"] & IFF_UP) and self.gateway in addresses

    def _ensure_bridge(self, ipr) -> int:
        found = ipr.link_lookup(ifname=self.bridge_name)
        if not found:
            _ensure(lambda: ipr.link("add", ifname=self.bridge_name, kind="bridge"))
            found = ipr.link_lookup(ifname=self.bridge_name)
        idx = found[0]
        _ensure(lambda: ipr.addr("add", index=idx, address=self.gateway, prefixlen=self.cidr.prefixlen))
        ipr.link("set", index=idx, state="up")
        # pods reach the pods of the host's other mk8s bridges through the host, and nothing else:
        # forwarding goes on only once the rules that confine it are in place
        try:
            ensure_forward_rules()
            forwarding = "1"
        except OSError as e:
            _log().warning("pods on %s reach only their own node's pods: %s", self.bridge_name, e)
            forwarding = "0"
        with open(f"/proc/sys/net/ipv4/conf/{self.bridge_name}/forwarding", "w") as f:
            f.write(forwarding)
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
            _kill_processes_in(path)
            _remove_netns(path)
        self._ipam.release(pod_uid)
        try:
            os.unlink(os.path.join(self._pods_dir(), pod_uid))
        except FileNotFoundError:
            pass

    def remove_node_network(self) -> bool:
        """Everything the node made (as `down --purge` and `node remove` want it gone): every pod's
        namespace, link and address it recorded, then its claim on the bridge, and the bridge with its
        address book once no other node claims it and no address is held on it. True when the bridge went."""
        from kubelet import hostclaims
        try:
            pods = os.listdir(self._pods_dir())
        except FileNotFoundError:
            pods = []
        for pod_uid in pods:
            self.teardown(pod_uid)
        if not hostclaims.release(self.bridge_name, self.state_dir) or self._ipam._allocations():
            return False
        self.remove_bridge()
        return True

    def remove_bridge(self) -> None:
        """Removes the node's bridge (a node leaving for good, or tests). Pods must be torn down first."""
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            for idx in ipr.link_lookup(ifname=self.bridge_name):
                _ensure(lambda: ipr.link("del", index=idx), errno.ENODEV)
        if not self._ipam._allocations():      # its address book too, unless a pod still holds an address
            try:
                os.unlink(self._ipam._last())
                os.rmdir(self._ipam.state_dir)
            except OSError:
                pass


def _kill_processes_in(netns_path: str) -> None:
    """SIGKILL to every process still in the network namespace at `netns_path`: what a pod's container
    left running on its own (a daemon that detached from its process group and cgroup-less host)."""
    import signal
    ns = os.stat(netns_path)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if (st.st_ino, st.st_dev) == (ns.st_ino, ns.st_dev):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _iptables(*args: str) -> subprocess.CompletedProcess:
    import shutil
    import subprocess
    exe = shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin")
    if exe is None:
        raise OSError(errno.ENOENT, "no iptables binary")
    try:
        return subprocess.run([exe, "-w", "5", *args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=30)
    except subprocess.TimeoutExpired as e:
        raise OSError(errno.ETIMEDOUT, f"iptables {' '.join(args)}: no answer in 30 s") from e


def _forward_rules_present() -> bool:
    """Whether one listing of the filter table (one iptables run, where the checks below take seven)
    already shows everything ensure_forward_rules puts in. False whenever in doubt: the rule-by-rule
    checks then run as before."""
    r = _iptables("-S")
    if r.returncode != 0:
        return False
    lines = set(r.stdout.splitlines())
    wanted = {f"-N {FORWARD_CHAIN}", f"-A FORWARD -j {FORWARD_CHAIN}"}
    wanted.update(f"-A {FORWARD_CHAIN} {' '.join(rule)}" for rule in FORWARD_RULES)
    if "-N DOCKER-USER" in lines:
        wanted.add(f"-A DOCKER-USER -j {FORWARD_CHAIN}")
    return wanted <= lines


def ensure_forward_rules() -> None:
    """Idempotently: the chain FORWARD_CHAIN holding FORWARD_RULES in order, jumped to from the top of
    FORWARD and of DOCKER-USER (where Docker, whose rules accept much for its own bridges, has it).
    Host-wide, shared by every node and cluster, and never removed: the rules only ever concern mk8s-*
    interfaces. Serialized by a file lock so that concurrent kubelets do not interleave their checks.
    Run for every pod, so the usual case (all in place) is answered by one listing."""
    import fcntl
    os.makedirs(os.path.dirname(_IPTABLES_LOCK), exist_ok=True)
    with open(_IPTABLES_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _forward_rules_present():
            return
        if _iptables("-S", FORWARD_CHAIN).returncode != 0:
            r = _iptables("-N", FORWARD_CHAIN)
            if r.returncode != 0 and _iptables("-S", FORWARD_CHAIN).returncode != 0:
                raise OSError(errno.EIO, f"iptables -N {FORWARD_CHAIN}: {r.stderr.strip()}")
        for pos, rule in enumerate(FORWARD_RULES, 1):
            if _iptables("-C", FORWARD_CHAIN, *rule).returncode != 0:
                _checked(_iptables("-I", FORWARD_CHAIN, str(pos), *rule), "-I", FORWARD_CHAIN, *rule)
        for parent in ("FORWARD", "DOCKER-USER"):
            if parent != "FORWARD" and _iptables("-S", parent).returncode != 0:
                continue       # no Docker here
            if _iptables("-C", parent, "-j", FORWARD_CHAIN).returncode != 0:
                _checked(_iptables("-I", parent, "1", "-j", FORWARD_CHAIN), "-I", parent, "-j", FORWARD_CHAIN)


def _checked(r: subprocess.CompletedProcess, *args: str) -> None:
    if r.returncode != 0:
        raise OSError(errno.EIO, f"iptables {' '.join(args)}: {(r.stderr or r.stdout).strip()}")


def _ensure(op, tolerated: int = errno.EEXIST) -> None:
    """Runs a netlink request, accepting the one error that means it was already done."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        op()
    except NetlinkError as e:
        if e.code != tolerated:
            raise
