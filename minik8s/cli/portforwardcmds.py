"""`minictl port-forward TYPE/NAME [LOCAL:]REMOTE...`: local TCP ports forwarded to a pod's ports.

Each accepted connection is one PortForward stream to the API server, which carries it over the pod's
node tunnel to the kubelet, which connects to the pod's IP at the port. `svc/NAME` and `deploy/NAME`
(rs, sts, ds) forward to one running pod they select, chosen once at start as kubectl does, and a
service port is mapped to its target port (a named target port through the pod's container ports)."""
from __future__ import annotations

import sys

from minik8s.cli.common import CliError, client_for, lookup, namespace_of


def port_forward_flags(p):
    p.add_argument("target", metavar="TYPE/NAME", help="pod/NAME, svc/NAME, deploy/NAME (or a pod's name)")
    p.add_argument("ports", nargs="+", metavar="[LOCAL:]REMOTE", help="e.g. 8080:80, :80 (a free local port), 80")
    p.add_argument("--address", default="localhost",
                   help="local addresses to listen on, comma-separated (localhost: 127.0.0.1)")


COMMANDS = [
    ("port-forward", "portforwardcmds:cmd_port_forward", "Forward one or more local ports to a pod",
     port_forward_flags),
]

_WORKLOADS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")


def _parse_ports(words: list[str]) -> list[tuple[int, str]]:
    """[(local port or 0 for any free one, remote port as written)]."""
    out = []
    for w in words:
        local, sep, remote = w.partition(":")
        if not sep:
            local, remote = w, w
        if not remote or (local and not local.isdigit()):
            raise CliError(f"Invalid port mapping {w!r}: want [LOCAL:]REMOTE")
        if not local:
            local = "0"
        if int(local) > 65535:
            raise CliError(f"Error parsing local port '{local}': must be between 0 and 65535")
        out.append((int(local), remote))
    return out


def _selector(obj, kind: str) -> str:
    from minik8s.api.selectors import from_label_selector_obj
    if kind == "Service":
        return ",".join(f"{k}={v}" for k, v in sorted(obj.spec.selector.items()))
    return str(from_label_selector_obj(obj.spec.selector))


def _target_pod(client, ns: str, target: str):
    """(the pod to forward to, the Service when the target is one)."""
    kind_word, sep, name = target.partition("/")
    if not sep:
        kind_word, name = "pod", target
    info = lookup(kind_word)
    if info.kind == "Pod":
        return client.get("Pod", name, ns), None
    if info.kind not in _WORKLOADS + ("Service",):
        raise CliError(f"cannot attach to *v1.{info.kind}: pods, services and workloads only")
    obj = client.get(info, name, ns)
    selector = _selector(obj, info.kind)
    pods = [p for p in client.list("Pod", ns, label_selector=selector) if p.status.phase == "Running"] \
        if selector else []
    if not pods:
        raise CliError(f"timed out waiting for the condition: no running pod of {info.resource}/{name}")
    pods.sort(key=lambda p: (p.metadata.creationTimestamp, p.metadata.name))
    return pods[0], (obj if info.kind == "Service" else None)


def _container_port(pod, name: str) -> int:
    for c in pod.spec.containers:
        for p in c.ports:
            if p.name == name:
                return p.containerPort
    raise CliError(f"Pod '{pod.metadata.name}' does not have a named port '{name}'")


def _remote_port(pod, service, remote: str) -> int:
    """The pod's port for a REMOTE word: a number, a container port's name, or (for a service) one of
    its ports, mapped to the target port."""
    from minik8s.api.codec import int_or_string
    if service is not None:
        for sp in service.spec.ports:
            if str(sp.port) == remote or sp.name == remote:
                target = int_or_string(sp.targetPort) if sp.HasField("targetPort") else None
                if target in (None, "", 0):
                    return sp.port
                return target if isinstance(target, int) else _container_port(pod, target)
        raise CliError(f"Service {service.metadata.name} does not have a service port {remote}")
    if remote.isdigit():
        port = int(remote)
        if not 0 < port < 65536:
            raise CliError(f"Error parsing remote port '{remote}': must be between 1 and 65535")
        return port
    return _container_port(pod, remote)


def _forward(client, ns: str, pod_name: str, port: int, conn) -> None:
    """One connection: the socket's bytes to the pod's port and back, until either side closes."""
    import socket
    from minik8s.api.pb import api_pb2
    from minik8s.client.transport import from_rpc_error
    import grpc

    def requests():
        yield api_pb2.PortForwardRequest(namespace=ns, name=pod_name, port=port)
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                yield api_pb2.PortForwardRequest(close=True)
                return
            yield api_pb2.PortForwardRequest(data=data)

    try:
        for msg in client.port_forward_stream(requests()):
            if msg.error:
                print(f"error: {msg.error}", file=sys.stderr)
                break
            conn.sendall(msg.data)
    except grpc.RpcError as e:
        print(f"error: {from_rpc_error(e).message}", file=sys.stderr)
    except OSError:
        pass
    finally:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()


def _listen(host: str, port: int):
    import socket
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError as e:
        s.close()
        raise CliError(f"unable to listen on port {port}: {e.strerror or e}") from None
    s.listen(16)
    return s


def _print_forwarding(sock, port: int) -> None:
    host, local = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"Forwarding from {shown}:{local} -> {port}", flush=True)


def cmd_port_forward(args) -> int:
    import threading
    ns = namespace_of(args)
    mappings = _parse_ports(args.ports)
    client = client_for(args)
    pod, service = _target_pod(client, ns, args.target)
    if pod.status.phase != "Running":
        raise CliError(f"unable to forward port because pod is not running. Current status="
                       f"{pod.status.phase or 'Pending'}")
    listeners = []
    for local, remote in mappings:
        port = _remote_port(pod, service, remote)
        for address in (a for a in args.address.split(",") if a):
            if address == "localhost":          # as kubectl: both loopbacks, IPv6 where the host has it
                sock = _listen("127.0.0.1", local)
                _print_forwarding(sock, port)
                listeners.append((sock, port))
                try:
                    sock = _listen("::1", sock.getsockname()[1])
                except CliError:
                    continue
            else:
                sock = _listen(address, local)
            _print_forwarding(sock, port)
            listeners.append((sock, port))

    def serve(sock, port):
        while True:
            conn, _ = sock.accept()
            print(f"Handling connection for {sock.getsockname()[1]}", flush=True)
            threading.Thread(target=_forward, args=(client, ns, pod.metadata.name, port, conn), daemon=True).start()
    threads = [threading.Thread(target=serve, args=lp, daemon=True) for lp in listeners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0
