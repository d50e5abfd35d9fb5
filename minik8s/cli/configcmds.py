"""`minictl kubeconfig` (merge the cluster's kubeconfig into ~/.kube/config, or the first file of
$KUBECONFIG, as context `minik8s`), `minictl config view` (print that file) and `minictl config
use-context NAME` (switch to a context). The files themselves are kubeconfig.py's."""
from __future__ import annotations

import os
import sys

from minik8s.cli import kubeconfig


def _home(args) -> str:
    from minik8s.client.config import home_dir
    return home_dir(getattr(args, "home", None))


def cmd_kubeconfig(args) -> int:
    path = kubeconfig.merge_into_user_config(_home(args), switch=getattr(args, "use", False))
    context = kubeconfig.CONTEXT
    print(f'context "{context}" written to {path}; use it with: kubectl --context {context} get pods')
    return 0


def cmd_config(args) -> int:
    import yaml
    if args.action == "view":
        data = kubeconfig.load(args.kubeconfig or kubeconfig.user_kubeconfig())
        if not args.raw:
            for u in data.get("users") or ():
                if isinstance(u.get("user"), dict) and "token" in u["user"]:
                    u["user"]["token"] = "REDACTED"
        yaml.safe_dump(data, sys.stdout, sort_keys=False)
        return 0
    if args.action == "use-context":
        if not args.name:
            print("error: use-context needs a context name", file=sys.stderr)
            return 1
        if args.name == kubeconfig.CONTEXT and os.path.exists(kubeconfig.kubeconfig_path(_home(args))):
            kubeconfig.merge_into_user_config(_home(args))
        path = args.kubeconfig or kubeconfig.user_kubeconfig()
        data = kubeconfig.load(path)
        if args.name not in {c.get("name") for c in data.get("contexts") or ()}:
            print(f'error: no context exists with the name: "{args.name}"', file=sys.stderr)
            return 1
        data["current-context"] = args.name
        kubeconfig.save(path, data)
        print(f'Switched to context "{args.name}".')
        return 0
    print(f"error: unknown config command {args.action!r}: view or use-context", file=sys.stderr)
    return 1


def _kubeconfig_flags(p):
    p.add_argument("--use", action="store_true", help="also make minik8s the current context")


def _config_flags(p):
    p.add_argument("action", choices=["view", "use-context"], help="view | use-context NAME")
    p.add_argument("name", nargs="?", help="the context, for use-context")
    p.add_argument("--kubeconfig", help="the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--raw", action="store_true", help="show tokens")


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("kubeconfig", "configcmds:cmd_kubeconfig", "Merge the cluster's kubeconfig into ~/.kube/config as "
                                               "context minik8s", _kubeconfig_flags),
    ("config", "configcmds:cmd_config", "View the kubeconfig or switch its current context", _config_flags),
]
