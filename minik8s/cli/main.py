"""`minictl`, the kubectl-shaped command line: argument parsing and dispatch.

Commands live in resources.py (get, apply, create, delete, describe, label, annotate, patch,
api-resources, version), watchcmds.py (wait, get -w) and up.py (up, down, status); each is imported
only when it runs, and so are gRPC, protobuf and YAML, which keeps start-up fast. Exit status is 0 on
success and 1 on failure, with kubectl's messages on stderr (`error: ...`,
`Error from server (NotFound): pods "x" not found`)."""
from __future__ import annotations

import argparse
import os
import sys

SUPPRESS = argparse.SUPPRESS


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(1, f"error: {message}\nSee '{self.prog} -h' for help and examples\n")


def _bool(text) -> bool:
    if isinstance(text, bool):
        return text
    v = str(text).lower()
    if v in ("true", "1", "yes", "t"):
        return True
    if v in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _duration(text: str) -> float:
    from minik8s.cli.watchcmds import parse_duration
    from minik8s.cli.resources import CliError
    try:
        return parse_duration(text)
    except CliError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _globals(p: argparse.ArgumentParser) -> None:
    """Flags every command takes, before or after the command word."""
    g = p.add_argument_group("global flags")
    g.add_argument("--home", default=SUPPRESS, help="cluster home (default $MINIK8S_HOME or ~/.minik8s)")
    g.add_argument("-s", "--server", default=SUPPRESS, help="API server address, overriding the config")
    g.add_argument("--token", default=SUPPRESS, help="bearer token, overriding the config")
    g.add_argument("--certificate-authority", default=SUPPRESS, help="CA certificate file for TLS")
    g.add_argument("--request-timeout", type=_duration, default=SUPPRESS,
                   help="time limit of a request (and of a watch, for get -w), e.g. 5s")
    g.add_argument("-n", "--namespace", default=SUPPRESS, help="namespace (default: default)")


def _bool_flag(p, *names, default, help):
    p.add_argument(*names, nargs="?", const=True, default=default, type=_bool, help=help)


# global flags that take a value as the next word
_VALUE_FLAGS = {"--home", "-s", "--server", "--token", "--certificate-authority", "--request-timeout", "-n",
                "--namespace"}


def command_index(argv: list[str]) -> int | None:
    """The index of the command word in argv (2 for `get` in `-n x get pods`), or None."""
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a in _VALUE_FLAGS:
            skip = True
        elif not a.startswith("-"):
            return i
    return None


def command_word(argv: list[str]) -> str | None:
    """The command in argv (`get` in `minictl -n x get pods`), or None."""
    i = command_index(argv)
    return None if i is None else argv[i]


# ---------------------------------------------------------------- each command's flags
def _output(p, help_="output format: json|yaml|name|wide|jsonpath=...|custom-columns=..."):
    p.add_argument("-o", "--output", help=help_)


def _selectors(p, field=True):
    p.add_argument("-l", "--selector", help="label selector, e.g. app=web,tier!=db")
    if field:
        p.add_argument("--field-selector", help="field selector, e.g. status.phase=Running")


def _files(p, required=False):
    p.add_argument("-f", "--filename", action="append", required=required, default=None,
                   help="manifest file, directory or - for stdin (repeatable)")
    p.add_argument("-R", "--recursive", action="store_true", help="read directories recursively")


def _get_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    _output(p)
    _selectors(p)
    p.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    p.add_argument("-w", "--watch", action="store_true", help="after listing, watch for changes")
    p.add_argument("--watch-only", action="store_true", help="watch for changes without listing first")
    p.add_argument("--output-watch-events", action="store_true", help="add the watch event type")
    p.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    p.add_argument("-L", "--label-columns", action="append", help="add a column per label key")
    p.add_argument("--no-headers", action="store_true", help="omit table headers")
    p.add_argument("--sort-by", help="sort by a JSONPath expression, e.g. .metadata.name")
    p.add_argument("--ignore-not-found", action="store_true", help="no error for a missing named object")


def _describe_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    _selectors(p, field=False)
    p.add_argument("-A", "--all-namespaces", action="store_true")
    _bool_flag(p, "--show-events", default=True, help="include the Events table (default true)")


def _apply_flags(p):
    _files(p, required=True)
    _output(p, "output format: name|json|yaml")


def _create_flags(p):
    p.add_argument("resources", nargs="*", metavar="namespace NAME")
    _files(p)
    _output(p, "output format: name|json|yaml")
    p.add_argument("--save-config", action="store_true", help="record the configuration for later apply")


def _delete_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    _files(p)
    _selectors(p)
    p.add_argument("--all", action="store_true", help="delete all resources of the type in the namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--grace-period", type=int, default=-1,
                   help="seconds to let the object terminate (-1: its own default)")
    p.add_argument("--now", action="store_true", help="delete with grace period 1 (immediate shutdown)")
    p.add_argument("--force", action="store_true", help="with --grace-period=0, remove at once")
    p.add_argument("--cascade", nargs="?", const="background", default="background",
                   help="background (default), foreground or orphan")
    _bool_flag(p, "--wait", default=True, help="wait until the objects are gone (default true, as kubectl)")
    p.add_argument("--timeout", type=_duration, default=0, help="how long --wait waits (0: no limit)")
    p.add_argument("--ignore-not-found", action="store_true")
    _output(p, "output format: name")


def _wait_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    p.add_argument("--for", dest="for_", help="delete | create | condition=NAME[=VALUE] | "
                                              "jsonpath='{EXPR}'[=VALUE]")
    p.add_argument("--timeout", help="how long to wait (default 30s; negative: a week)")
    _selectors(p)
    p.add_argument("--all", action="store_true")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    _files(p)


def _api_resources_flags(p):
    p.add_argument("--namespaced", help="true or false: only namespaced or only cluster-scoped kinds")
    p.add_argument("--api-group", help="only this API group ('' for core)")
    _output(p, "output format: name")
    p.add_argument("--no-headers", action="store_true")


def _version_flags(p):
    p.add_argument("--client", action="store_true", help="client version only")
    _output(p, "output format: json|yaml")


def _meta_flags(p):
    p.add_argument("args", nargs="+", metavar="TYPE NAME KEY=VAL... KEY-...")
    p.add_argument("--overwrite", action="store_true", help="allow replacing existing values")
    p.add_argument("--all", action="store_true")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("-l", "--selector")
    p.add_argument("--resource-version", help="only if the object is still at this version")
    p.add_argument("-f", "--filename", action="append", default=None)


def _patch_flags(p):
    p.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("-p", "--patch", help="the patch, JSON (or YAML)")
    p.add_argument("--patch-file", help="a file holding the patch")
    p.add_argument("--type", default="merge", help="patch type: merge (the only one supported)")
    p.add_argument("--subresource", help="status to patch the status subresource")
    _output(p, "output format: name|json|yaml")


def _up_flags(p):
    p.add_argument("--nodes", type=int, help="number of nodes")
    p.add_argument("-f", "--file", help="cluster file (cluster.yaml)")
    p.add_argument("--runtime", help="container runtime for the nodes")
    p.add_argument("--port", type=int, help="API server port")
    p.add_argument("--address", help="API server listen address")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the API server and the nodes to be ready (default 60)")
    p.add_argument("--prepare-only", action="store_true",
                   help="write the home (tokens, config, certificates) without starting anything")


def _down_flags(p):
    p.add_argument("--purge", action="store_true", help="also delete the cluster's home directory")


# name, implementation (module:function), help, flags
COMMANDS = [
    ("get", "resources:cmd_get", "Display one or many resources", _get_flags),
    ("describe", "resources:cmd_describe", "Show details of a resource or group of resources", _describe_flags),
    ("apply", "resources:cmd_apply", "Apply a configuration to a resource by file name or stdin", _apply_flags),
    ("create", "resources:cmd_create", "Create a resource from a file or from stdin", _create_flags),
    ("delete", "resources:cmd_delete", "Delete resources by file names, stdin, resources and names, or by "
                                       "resources and label selector", _delete_flags),
    ("wait", "watchcmds:cmd_wait", "Wait for a specific condition on one or many resources", _wait_flags),
    ("api-resources", "resources:cmd_api_resources", "Print the supported API resources",
     _api_resources_flags),
    ("version", "resources:cmd_version", "Print the client and server version information", _version_flags),
    ("label", "resources:cmd_label", "Update the labels on a resource", _meta_flags),
    ("annotate", "resources:cmd_annotate", "Update the annotations on a resource", _meta_flags),
    ("patch", "resources:cmd_patch", "Update fields of a resource with a merge patch", _patch_flags),
    ("up", "up:cmd_up", "Start a local cluster (API server, controllers, scheduler, nodes)", _up_flags),
    ("down", "up:cmd_down", "Stop the local cluster", _down_flags),
    ("status", "up:cmd_status", "Show the local cluster's components", None),
]

# ---- workload commands (scale, rollout, set): flags and code in rollout.py ----
from minik8s.cli.rollout import COMMANDS as _WORKLOAD_COMMANDS  # noqa: E402
COMMANDS += _WORKLOAD_COMMANDS
# ---- end workload commands ----

# logs, exec, top (minik8s/cli/podcmds.py, from the kubelet work)
from minik8s.cli.podcmds import COMMANDS as _POD_COMMANDS  # noqa: E402
COMMANDS += _POD_COMMANDS

# kubeconfig, config view|use-context (minik8s/cli/kubeconfig.py)
from minik8s.cli.kubeconfig import COMMANDS as _KUBECONFIG_COMMANDS  # noqa: E402
COMMANDS += _KUBECONFIG_COMMANDS


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With `only` (a command name), the other commands are listed but their
    flags are not built: argparse is slow to build, and start-up is most of minictl's latency."""
    parser = _Parser(prog="minictl", description="minictl controls the minik8s cluster manager.")
    _globals(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    known = {c[0] for c in COMMANDS}
    for name, func, help_, flags in COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        if only in known and name != only:
            continue
        _globals(p)
        p.set_defaults(func=func)
        if flags is not None:
            flags(p)
    return parser


def command_parser(name: str) -> argparse.ArgumentParser:
    """A parser for one command alone (`minictl get ...`), global flags included."""
    for cname, func, help_, flags in COMMANDS:
        if cname == name:
            p = _Parser(prog=f"minictl {name}", description=help_)
            _globals(p)
            p.set_defaults(func=func, command=name)
            if flags is not None:
                flags(p)
            return p
    raise KeyError(name)


def parse(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse like kubectl: flags before or after the command and between its arguments
    (`minictl get pods -n x web-1`)."""
    i = command_index(argv)
    if i is not None and argv[i] in {c[0] for c in COMMANDS}:
        parser = command_parser(argv[i])
        rest = argv[:i] + argv[i + 1:]
        try:
            return parser, parser.parse_intermixed_args(rest)
        except TypeError:       # sub-commands or `--` remainders: argparse cannot intermix those
            return parser, parser.parse_args(rest)
    parser = build_parser()
    return parser, parser.parse_args(argv)


_GLOBALS = ("home", "server", "token", "certificate_authority", "request_timeout", "namespace")


def _run(func: str, args) -> int:
    import importlib
    mod, _, name = func.partition(":")
    return getattr(importlib.import_module(f"minik8s.cli.{mod}"), name)(args) or 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, args = parse(argv)
    for key in _GLOBALS:
        if not hasattr(args, key):
            setattr(args, key, None)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return _run(args.func, args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`minictl get pods | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as e:  # noqa: BLE001 - every failure becomes one line and status 1
        return _report(e)


def _report(e: Exception) -> int:
    from minik8s.cli.resources import CliError, Failed, api_error_line
    if isinstance(e, Failed):
        return 1
    if isinstance(e, CliError):
        print(f"error: {e}", file=sys.stderr)
        return 1
    from minik8s.api.errors import ApiError
    if isinstance(e, ApiError):
        print(api_error_line(e), file=sys.stderr)
        return 1
    from minik8s.api.kinds import UnknownKind
    if isinstance(e, (UnknownKind, OSError, ValueError)):
        print(f"error: {e}", file=sys.stderr)
        return 1
    raise e


if __name__ == "__main__":
    sys.exit(main())
