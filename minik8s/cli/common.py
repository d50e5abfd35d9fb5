"""What the minictl commands share: the parser (kubectl's usage errors, exit status 1), flag types
(booleans, durations), the global flags and the flag groups several commands take; the failures a
command reports; the API client the global flags name; resource arguments (`TYPE NAME`, `TYPE/NAME`)
and the objects a manifest names; kubectl's wording of server errors.

The command (verb) modules import this and the other shared modules (printers, describe, jsonpath,
watching, kubeconfig), never one another; nothing here imports a verb module. Everything heavy (gRPC,
protobuf, YAML) is imported inside the functions, so `minictl` starts fast."""
from __future__ import annotations

import argparse
import re
import sys


class CliError(Exception):
    """A failure reported as `error: <message>` with exit status 1."""


class Failed(Exception):
    """Errors were already printed; exit 1."""


# ---------------------------------------------------------------- parsing
SUPPRESS = argparse.SUPPRESS


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(1, f"error: {message}\nSee '{self.prog} -h' for help and examples\n")


def bool_value(text) -> bool:
    if isinstance(text, bool):
        return text
    v = str(text).lower()
    if v in ("true", "1", "yes", "t"):
        return True
    if v in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def duration(text: str) -> float:
    try:
        return parse_duration(text)
    except CliError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def global_flags(p: argparse.ArgumentParser) -> None:
    """Flags every command takes, before or after the command word."""
    g = p.add_argument_group("global flags")
    g.add_argument("--home", default=SUPPRESS, help="cluster home (default $MINIK8S_HOME or ~/.minik8s)")
    g.add_argument("-s", "--server", default=SUPPRESS, help="API server address, overriding the config")
    g.add_argument("--token", default=SUPPRESS, help="bearer token, overriding the config")
    g.add_argument("--certificate-authority", default=SUPPRESS, help="CA certificate file for TLS")
    g.add_argument("--insecure-skip-tls-verify", action="store_true", default=SUPPRESS,
                   help="trust whatever certificate an https:// server shows (insecure)")
    g.add_argument("--request-timeout", type=duration, default=SUPPRESS,
                   help="time limit of a request (and of a watch, for get -w), e.g. 5s")
    g.add_argument("-n", "--namespace", default=SUPPRESS, help="namespace (default: default)")


def bool_flag(p, *names, default, help):
    p.add_argument(*names, nargs="?", const=True, default=default, type=bool_value, help=help)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration subset kubectl's --timeout takes (`30s`, `1m30s`, `500ms`); a bare
    number is seconds."""
    t = text.strip()
    if not t:
        raise CliError("invalid duration \"\"")
    neg = t.startswith("-")
    body = t.lstrip("+-")
    try:
        v = float(body)
        return -v if neg else v
    except ValueError:
        pass
    pos, total = 0, 0.0
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    for m in _DURATION.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * scale[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise CliError(f'invalid duration "{text}"')
    return -total if neg else total


def output_flag(p, help_="output format: json|yaml|name|wide|jsonpath=...|custom-columns=..."):
    p.add_argument("-o", "--output", help=help_)


def selector_flags(p, field=True):
    p.add_argument("-l", "--selector", help="label selector, e.g. app=web,tier!=db")
    if field:
        p.add_argument("--field-selector", help="field selector, e.g. status.phase=Running")


def file_flags(p, required=False):
    p.add_argument("-f", "--filename", action="append", required=required, default=None,
                   help="manifest file, directory or - for stdin (repeatable)")
    p.add_argument("-R", "--recursive", action="store_true", help="read directories recursively")


# ---------------------------------------------------------------- context
_SERVER: list[str] = []


def client_for(args):
    """The API client for the global flags: --server/--token/--certificate-authority override the
    config file in --home ($MINIK8S_HOME, ~/.minik8s)."""
    from minik8s.client.client import Client
    timeout = getattr(args, "request_timeout", None) or 30.0
    server, token = getattr(args, "server", None), getattr(args, "token", None)
    ca = getattr(args, "certificate_authority", None)
    insecure = getattr(args, "insecure_skip_tls_verify", False)
    if insecure:
        print("WARNING: the server's certificate will not be checked: the connection is not secure",
              file=sys.stderr)

    def connect(*a, **kw):
        try:
            return Client(*a, timeout=timeout, **kw)
        except ValueError as e:      # TLS asked for and no way to verify it: never plaintext
            raise CliError(str(e)) from None
    if server and token is not None:
        _SERVER[:] = [server]
        return connect(server, token, ca, insecure_skip_tls_verify=insecure)
    from minik8s.client.config import ClientConfig
    try:
        cfg = ClientConfig.load(getattr(args, "home", None))
    except FileNotFoundError as e:
        if server:
            _SERVER[:] = [server]
            return connect(server, token or "", ca, insecure_skip_tls_verify=insecure)
        raise CliError(str(e)) from None
    except (KeyError, ValueError) as e:
        raise CliError(f"invalid client config: {e}") from None
    _SERVER[:] = [server or cfg.server]
    if server or token is not None or ca or insecure:
        return connect(server or cfg.server, token if token is not None else cfg.token, ca or cfg.ca_file,
                       insecure_skip_tls_verify=insecure or cfg.insecure_skip_tls_verify)
    return connect(config=cfg)


def namespace_of(args) -> str:
    return getattr(args, "namespace", None) or "default"


def default_container(client, name: str, ns: str, container: str) -> str:
    """kubectl's default container for logs, exec and cp: the one named, the annotated default, the
    only one, or the first with a note on stderr."""
    if container:
        return container
    pod = client.get("Pod", name, ns)
    names = [c.name for c in pod.spec.containers]
    annotated = pod.metadata.annotations.get("kubectl.kubernetes.io/default-container")
    if annotated in names:
        return annotated
    if len(names) > 1:
        print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
    return names[0] if names else ""


def lookup(word: str):
    from minik8s.api.kinds import UnknownKind, lookup as _lookup
    try:
        return _lookup(word)
    except UnknownKind as e:
        raise CliError(str(e)) from None


def parse_resources(words: list[str]) -> list[tuple[object, list[str] | None]]:
    """kubectl's resource arguments: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.

    Returns [(KindInfo, names or None for all)], in the order given."""
    if not words:
        return []
    if "/" in words[0]:
        out: list[tuple[object, list[str] | None]] = []
        for w in words:
            kind, sep, name = w.partition("/")
            if not sep or not kind or not name:
                raise CliError("arguments in resource/name form must have a single resource and name")
            info = lookup(kind)
            if out and out[-1][0] is info:
                out[-1][1].append(name)
            else:
                out.append((info, [name]))
        return out
    if any("/" in w for w in words[1:]):
        raise CliError("there is no need to specify a resource type as a separate argument when passing "
                       "arguments in resource/name form (e.g. 'minictl get resource/<resource_name>' "
                       "instead of 'minictl get resource resource/<resource_name>'")
    kinds = [k for k in words[0].split(",") if k]
    names = words[1:] or None
    infos = []
    for k in kinds:
        if k == "all":
            infos.extend(lookup(x) for x in ("pods", "services", "deployments", "replicasets", "jobs",
                                             "horizontalpodautoscalers"))
        else:
            infos.append(lookup(k))
    return [(i, list(names) if names else None) for i in infos]


def what(info, name: str) -> str:
    """`deployments.apps "web"`, as the server words an object in its errors."""
    plural = f"{info.plural}.{info.group}" if info.group else info.plural
    return f'{plural} "{name}"'


def api_error_line(e, context: str = "") -> str:
    """kubectl's wording of a server error (`Error from server (NotFound): pods "x" not found`)."""
    from minik8s.api.errors import Invalid, Unauthenticated, Unavailable
    if isinstance(e, Invalid):
        return f"The {e.message}"
    if isinstance(e, Unauthenticated):
        return "error: You must be logged in to the server (Unauthorized)"
    low = e.message.lower()
    server = _SERVER[0] if _SERVER else "the server"
    if isinstance(e, Unavailable) and any(s in low for s in ("failed to connect", "connection refused",
                                                             "dns resolution", "socket closed",
                                                             "connection reset")):
        return f"The connection to the server {server} was refused - did you specify the right host or port?"
    if isinstance(e, Unavailable) and "deadline exceeded" in low:
        return f"Unable to connect to the server {server}: request timed out ({e.message})"
    return f"Error from server ({e.reason}): {context}{e.message}"


def report(line: str) -> None:
    print(line, file=sys.stderr)


def selector_args(args) -> tuple[str, str]:
    return getattr(args, "selector", None) or "", getattr(args, "field_selector", None) or ""


def sort_objects(objs: list) -> list:
    return sorted(objs, key=lambda o: (o.metadata.namespace, o.metadata.name))


# ---------------------------------------------------------------- manifests
def load_manifests(args):
    from minik8s.api.manifest import ManifestError, load_paths
    if not args.filename:
        raise CliError("must specify one of -f and -k")
    try:
        return load_paths(args.filename, recursive=getattr(args, "recursive", False))
    except ManifestError as e:
        for line in e.errors:
            report(f"error: {line}")
        raise Failed() from None


def load_good_manifests(args) -> tuple[list, bool]:
    """The manifests of every file that loads, and whether any did not: each bad file's errors are
    reported and the rest still applied, as `kubectl apply -f DIR` does."""
    from minik8s.api.manifest import ManifestError, expand_paths, load_paths
    if not args.filename:
        raise CliError("must specify one of -f and -k")
    files, errors = expand_paths(args.filename, getattr(args, "recursive", False))
    out = []
    for f in dict.fromkeys(files):
        try:
            out.extend(load_paths([f]))
        except ManifestError as e:
            errors.extend(e.errors)
    for line in errors:
        report(f"error: {line}")
    return out, bool(errors)


def target_namespace(args, m) -> str:
    """The namespace for a manifest's object, as kubectl decides it."""
    if not m.info.namespaced:
        return ""
    flag = getattr(args, "namespace", None)
    own = m.obj.metadata.namespace
    if own and flag and own != flag:
        raise CliError(f'the namespace from the provided object "{own}" does not match the namespace '
                       f'"{flag}". You must pass \'--namespace={own}\' to perform this operation.')
    return own or flag or "default"
