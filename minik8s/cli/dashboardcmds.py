"""`minictl dashboard [--port N] [--open]`: the live web dashboard on 127.0.0.1. The dashboard is a
component of its own (minik8s/dashboard), reading the cluster through the API server like the others,
so minictl does not import it: it becomes that process (exec), with the global flags passed on, the
token in the environment rather than on a command line others can read. The address it prints carries
the admin's token, or the one given with --token: a read-only one, such as a ServiceAccount's from
`minictl create token`, shows only what its roles let it list."""
from __future__ import annotations

import os
import sys

TOKEN_ENV = "MINIK8S_TOKEN"     # read by python -m minik8s.dashboard


def dashboard_flags(p):
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 to serve on (0: a free one)")
    p.add_argument("--open", action="store_true", help="open the dashboard in the default browser")


COMMANDS = [
    ("dashboard", "dashboardcmds:cmd_dashboard", "Serve a live, read-only web view of the cluster", dashboard_flags),
]


def cmd_dashboard(args) -> int:
    from minik8s.cli.common import CliError
    if not 0 <= args.port <= 65535:
        raise CliError(f"invalid --port {args.port}: must be between 0 and 65535")
    argv = [sys.executable, "-m", "minik8s.dashboard", "--port", str(args.port)]
    for flag, value in (("--home", args.home), ("--server", args.server),
                        ("--certificate-authority", args.certificate_authority)):
        if value:
            argv += [flag, value]
    if args.open:
        argv.append("--open")
    env = dict(os.environ)
    if args.token:
        env[TOKEN_ENV] = args.token
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)
