"""`minictl replace`, `minictl diff` and `minictl edit`: an object changed whole rather than applied.

replace puts each manifest's object in place of the live one (`configmap/x replaced`). diff shows what
apply would change, as kubectl does: the live objects and the merged ones (the apply patch on the live
object, defaulted and validated by the server's dry run, stored nowhere) written to two directories
and compared by `diff -u -N` or $KUBECTL_EXTERNAL_DIFF; exit 0 when nothing differs, 1 when something
does, 2 on an error. edit opens the object's YAML in $KUBE_EDITOR or $EDITOR, saves the change as a
merge patch, and re-opens the file with the error as a comment header when the change is invalid."""
from __future__ import annotations

import os
import sys

from minik8s.cli.common import (CliError, Failed, api_error_line, client_for, file_flags, load_manifests,
                                namespace_of, output_flag, parse_resources, report, target_namespace)
from minik8s.api.workloads import LAST_APPLIED_ANNOTATION as LAST_APPLIED


def replace_flags(p):
    file_flags(p, required=True)
    output_flag(p, "output format: name|json|yaml")


def diff_flags(p):
    file_flags(p, required=True)


def edit_flags(p):
    p.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    output_flag(p, "output format: name|json|yaml")


COMMANDS = [
    ("replace", "editcmds:cmd_replace", "Replace a resource by file name or stdin", replace_flags),
    ("diff", "editcmds:cmd_diff", "Diff the live version against a would-be applied version", diff_flags),
    ("edit", "editcmds:cmd_edit", "Edit a resource on the server", edit_flags),
]


# ---------------------------------------------------------------- replace
def cmd_replace(args) -> int:
    from minik8s.cli.printers import print_result
    from minik8s.api.errors import ApiError, Invalid
    manifests = load_manifests(args)
    if not manifests:
        raise CliError("no objects passed to replace")
    targets = [(m, target_namespace(args, m)) for m in manifests]
    client = client_for(args)
    failed = False
    for m, ns in targets:
        obj = m.obj
        if ns:
            obj.metadata.namespace = ns
        try:
            client.get(m.info, obj.metadata.name, ns)
            res = client.update(obj)
        except ApiError as e:
            report(api_error_line(e) if isinstance(e, Invalid)
                   else api_error_line(e, f'error when replacing "{m.source}": '))
            failed = True
            continue
        print_result(args.output, m.info, res, "replaced")
    return 1 if failed else 0


# ---------------------------------------------------------------- diff
def _file_name(info, ns: str, name: str) -> str:
    """kubectl's name for an object's file in the LIVE and MERGED directories."""
    group = f"{info.group}." if info.group else ""
    return f"{group}{info.version}.{info.kind}.{ns}.{name}"


def _merged(client, m, ns: str):
    """(live object or None, the object apply would leave), the latter from the server's dry run."""
    import json
    from minik8s.api.codec import from_dict, to_dict
    from minik8s.api.errors import NotFound
    from minik8s.api.mergepatch import merge_patch, three_way_patch
    from minik8s.cli.applyconfig import modified_config
    modified, _ = modified_config(m, ns)     # as kubectl's diff: without the last-applied annotation
    try:
        live = client.get(m.info, m.obj.metadata.name, ns)
    except NotFound:
        return None, client.create(from_dict(m.info.message, modified), dry_run=True)
    current = to_dict(live)
    raw = live.metadata.annotations.get(LAST_APPLIED)
    try:
        original = json.loads(raw) if raw else None
    except ValueError:
        original = None
    patch = three_way_patch(original, modified, current)
    if not patch:
        return live, live
    return live, client.update(from_dict(m.info.message, merge_patch(current, patch)), dry_run=True)


def _yaml(info, obj) -> str:
    from minik8s.cli import printers
    doc = printers.to_json_obj(obj, info)
    doc.get("metadata", {}).pop("managedFields", None)
    return printers.dump_yaml(doc)


def cmd_diff(args) -> int:
    try:
        return _diff(args)
    except (CliError, OSError, ValueError) as e:
        report(f"error: {e}")
    except Failed:
        pass
    return 2        # 1 means "differences found"; errors are above it, as kubectl's


def _diff(args) -> int:
    import shlex
    import subprocess
    import tempfile
    from minik8s.api.errors import ApiError
    manifests = load_manifests(args)
    client = client_for(args)
    with tempfile.TemporaryDirectory(prefix="LIVE-") as live_dir, \
            tempfile.TemporaryDirectory(prefix="MERGED-") as merged_dir:
        for m in manifests:
            ns = target_namespace(args, m)
            try:
                live, merged = _merged(client, m, ns)
            except ApiError as e:
                report(api_error_line(e))
                return 2
            fname = _file_name(m.info, ns, m.obj.metadata.name)
            if live is not None:
                with open(os.path.join(live_dir, fname), "w") as f:
                    f.write(_yaml(m.info, live))
            with open(os.path.join(merged_dir, fname), "w") as f:
                f.write(_yaml(m.info, merged))
        external = os.environ.get("KUBECTL_EXTERNAL_DIFF", "").strip()
        argv = shlex.split(external) if external else ["diff", "-u", "-N"]
        sys.stdout.flush()
        try:
            return subprocess.run([*argv, live_dir, merged_dir]).returncode
        except FileNotFoundError:
            raise CliError(f'failed to run "{argv[0]}": executable file not found in $PATH') from None


# ---------------------------------------------------------------- edit
EDIT_HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
               "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
               "# reopened with the relevant failures.\n#\n")


def _editor() -> list[str]:
    import shlex
    for var in ("KUBE_EDITOR", "EDITOR"):
        if os.environ.get(var, "").strip():
            return shlex.split(os.environ[var])
    return ["vi"]


def _strip_comments(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#"))


def _open_editor(path: str) -> None:
    import subprocess
    argv = _editor()
    try:
        rc = subprocess.run([*argv, path]).returncode
    except FileNotFoundError:
        raise CliError(f'unable to launch the editor "{" ".join(argv)}"') from None
    if rc != 0:
        raise CliError(f'there was a problem with the editor "{" ".join(argv)}"')


def cmd_edit(args) -> int:
    from minik8s.api.errors import ApiError
    reqs = parse_resources(args.resources)
    targets = [(info, n) for info, names in reqs for n in (names or [])]
    if not targets:
        raise CliError("resource(s) were provided, but no name was specified")
    client = client_for(args)
    ns = namespace_of(args)
    failed = False
    for info, name in targets:
        tns = ns if info.namespaced else ""
        try:
            live = client.get(info, name, tns)
        except ApiError as e:
            report(api_error_line(e))
            failed = True
            continue
        failed |= not _edit_one(args, client, info, live)
    return 1 if failed else 0


def _edit_one(args, client, info, live) -> bool:
    """Edit until the change is saved, cancelled, or repeated unchanged after an error."""
    import tempfile
    import yaml
    from minik8s.api.errors import ApiError
    from minik8s.api.mergepatch import create_merge_patch
    from minik8s.cli import printers
    original = printers.to_json_obj(live, info)
    body = printers.dump_yaml(original)
    name, ns = live.metadata.name, live.metadata.namespace
    fd, path = tempfile.mkstemp(prefix=f"minictl-edit-", suffix=".yaml")
    os.close(fd)
    errors, previous = "", None
    try:
        while True:
            with open(path, "w") as f:
                f.write(EDIT_HEADER + errors + body)
            _open_editor(path)
            with open(path) as f:
                edited_text = _strip_comments(f.read())
            if not edited_text.strip():
                report("Edit cancelled, no changes made.")
                return True
            if previous is not None and edited_text == previous:
                report(f'A copy of your changes has been stored to "{path}"\n'
                       "error: Edit cancelled, no valid changes were saved.")
                path = ""           # kept for the user
                return False
            try:
                edited = yaml.safe_load(edited_text)
                if not isinstance(edited, dict):
                    raise ValueError("the edited file is not an object")
            except (yaml.YAMLError, ValueError) as e:
                errors, previous, body = _error_header(f"The edited file had a syntax error: {e}"), \
                    edited_text, edited_text
                continue
            if edited == original:
                report("Edit cancelled, no changes made.")
                return True
            for key in ("apiVersion", "kind"):
                if edited.get(key) != original.get(key):
                    errors, previous, body = _error_header(f"{key} may not be changed (was "
                                                           f"{original.get(key)!r})"), edited_text, edited_text
                    break
            else:
                meta = edited.get("metadata") or {}
                if meta.get("name") != name or (meta.get("namespace") or "") != (ns or ""):
                    errors, previous, body = _error_header("metadata.name and metadata.namespace may not be "
                                                           "changed"), edited_text, edited_text
                    continue
                try:
                    res = client.patch(info, name, create_merge_patch(original, edited), ns or None)
                except ApiError as e:
                    from minik8s.cli.common import what
                    report(f"error: {what(info, name)} is invalid")
                    causes = "\n".join(f"* {c}" for c in _causes(e.message))
                    errors = _error_header(f"{what(info, name)} was not valid:\n{causes}")
                    previous, body = edited_text, edited_text
                    continue
                printers.print_result(args.output, info, res, "edited")
                return True
    finally:
        if path and os.path.exists(path):
            os.unlink(path)


def _causes(message: str) -> list[str]:
    """The field errors of a server message (`X "n" is invalid: [a, b]` or `...: a`), one per line."""
    _, sep, rest = message.partition(" is invalid: ")
    if not sep:
        return [message]
    if rest.startswith("[") and rest.endswith("]"):
        return [c for c in rest[1:-1].split(", ") if c]
    return [rest]


def _error_header(message: str) -> str:
    return "".join(f"# {line}\n" for line in message.splitlines()) + "#\n"
