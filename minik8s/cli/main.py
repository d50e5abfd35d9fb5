"""`minictl`, the kubectl-shaped command line: argument parsing and dispatch, nothing else.

Each verb module lists its commands (name, implementation, help, flags) in COMMANDS: resources.py (get,
describe, apply, create, delete, api-resources, version, label, annotate, patch), watchcmds.py (wait), up.py
(up, down, status, node), rollout.py (scale, rollout, set), podcmds.py (logs, exec, top), copycmds.py (cp),
configcmds.py (kubeconfig, config), nodecmds.py (cordon, uncordon, drain, taint), runcmds.py (run, runs),
imagecmds.py (images), authcmds.py (auth can-i), autoscalecmds.py (autoscale), exposecmds.py (expose),
clustercmds.py (cluster-info), editcmds.py (replace, diff, edit), explaincmds.py (explain), dashboardcmds.py
(dashboard) and portforwardcmds.py (port-forward). Verb modules never import one another; what they share
lives in common.py, watching.py, printers.py, describe.py, jsonpath.py, kubeconfig.py, nodeops.py,
generators.py and applyconfig.py (the contract in pyproject.toml, checked by `lint-imports`). Their flag
functions are light; gRPC, protobuf and YAML are imported only when a command runs, which keeps start-up
fast. Exit status is 0 on success and 1 on failure, with kubectl's messages on stderr (`error: ...`, `Error
from server (NotFound): pods "x" not found`)."""
from __future__ import annotations

import argparse
import os
import sys

from minik8s.cli import configcmds, copycmds, imagecmds, nodecmds, podcmds, resources, rollout, runcmds, up, watchcmds
from minik8s.cli import authcmds, autoscalecmds, nodegroupcmds
from minik8s.cli import clustercmds, dashboardcmds, editcmds, explaincmds, exposecmds, portforwardcmds
from minik8s.cli.common import CliError, Failed, Parser, api_error_line, global_flags

COMMANDS = [*resources.COMMANDS, *watchcmds.COMMANDS, *up.COMMANDS, *rollout.COMMANDS, *podcmds.COMMANDS,
            *copycmds.COMMANDS, *configcmds.COMMANDS, *nodecmds.COMMANDS, *runcmds.COMMANDS, *imagecmds.COMMANDS,
            *nodegroupcmds.COMMANDS, *authcmds.COMMANDS, *autoscalecmds.COMMANDS,
            *exposecmds.COMMANDS, *clustercmds.COMMANDS, *editcmds.COMMANDS,
            *explaincmds.COMMANDS, *dashboardcmds.COMMANDS, *portforwardcmds.COMMANDS]

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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With `only` (a command name), the other commands are listed but their
    flags are not built: argparse is slow to build, and start-up is most of minictl's latency."""
    parser = Parser(prog="minictl", description="minictl controls the minik8s cluster manager.")
    global_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    known = {c[0] for c in COMMANDS}
    for name, func, help_, flags in COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        if only in known and name != only:
            continue
        global_flags(p)
        p.set_defaults(func=func)
        if flags is not None:
            flags(p)
    return parser


def command_parser(name: str) -> argparse.ArgumentParser:
    """A parser for one command alone (`minictl get ...`), global flags included."""
    for cname, func, help_, flags in COMMANDS:
        if cname == name:
            p = Parser(prog=f"minictl {name}", description=help_)
            global_flags(p)
            p.set_defaults(func=func, command=name)
            if flags is not None:
                flags(p)
            return p
    raise KeyError(name)


def parse(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse like kubectl: flags before or after the command and between its arguments
    (`minictl get pods -n x web-1`)."""
    i = command_index(argv)
    if i is not None and argv[i] == "get" and command_word(argv[i + 1:]) in nodegroupcmds.WORDS:
        # node groups are no API kind: `get nodegroups` is the autoscaler's status
        j = i + 1 + command_index(argv[i + 1:])
        argv = argv[:i] + ["nodegroups"] + argv[i + 1:j] + argv[j + 1:]
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
