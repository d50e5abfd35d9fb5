"""`minictl cp`: kubectl's copy between a container and this machine, through exec and tar as kubectl
does (the container needs `tar`).

`cp [NAMESPACE/]POD:PATH LOCAL` runs `tar cf - PATH` in the container and unpacks the stream here
with PATH's own name stripped: a file lands at LOCAL (inside it when LOCAL is a directory), a
directory's contents under LOCAL. Entries that would land outside LOCAL and links are skipped with a
warning, as kubectl skips them. `cp LOCAL [NAMESPACE/]POD:PATH` packs LOCAL here under PATH's name (or
under LOCAL's own name inside PATH when PATH is a directory in the container) and unpacks it there
with `tar -xmf - -C DIR`, the archive sent as stdin frames."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

CHUNK = 1 << 20             # stdin frame size: well under the API's message limit
SPEC_FORMAT = "[[namespace/]pod:]file/path"


def cp_flags(p):
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("-c", "--container", default="", help="container name (default: the only one, or the first)")


COMMANDS = [
    ("cp", "copycmds:cmd_cp", "Copy files and directories to and from containers", cp_flags),
]


@dataclass
class FileSpec:
    path: str
    pod: str = ""
    namespace: str = ""


def file_spec(arg: str) -> FileSpec:
    """kubectl's extractFileSpec: `[ns/]pod:path` is in a pod, anything without a colon is local."""
    from minik8s.cli.common import CliError
    pod, sep, path = arg.partition(":")
    if not sep:
        return FileSpec(arg)
    if not path:
        raise CliError("filepath can not be empty")
    pieces = pod.split("/")
    if len(pieces) == 1 and pieces[0]:
        return FileSpec(path, pod=pieces[0])
    if len(pieces) == 2 and all(pieces):
        return FileSpec(path, pod=pieces[1], namespace=pieces[0])
    raise CliError(f"filespec must match the canonical format: {SPEC_FORMAT}")


def cmd_cp(args) -> int:
    from minik8s.cli.common import CliError, client_for, default_container, namespace_of
    src, dest = file_spec(args.src), file_spec(args.dest)
    if src.pod and dest.pod:
        raise CliError("one of src or dest must be a local file specification")
    if not src.pod and not dest.pod:
        raise CliError("one of src or dest must be a remote file specification")
    if dest.pod and not os.path.exists(src.path):
        raise CliError(f"{src.path} doesn't exist in local filesystem")
    remote = src if src.pod else dest
    ns = remote.namespace or namespace_of(args)
    with client_for(args) as c:
        container = default_container(c, remote.pod, ns, args.container)
        run = _Exec(c, remote.pod, ns, container)
        if src.pod:
            return copy_from_pod(run, src.path, dest.path)
        return copy_to_pod(run, src.path, dest.path)


class _Exec:
    """Commands in one container: stdin sent in frames, stdout gathered into a spooled file."""

    def __init__(self, client, pod: str, namespace: str, container: str):
        self.client, self.pod, self.namespace, self.container = client, pod, namespace, container

    def __call__(self, command: list[str], stdin=None, stdout=None) -> tuple[int, bytes]:
        """Run `command`; returns (exit code, stderr). stdin: a binary file to send; stdout: where
        the output goes."""
        import grpc

        from minik8s.api.pb import api_pb2
        from minik8s.cli.common import CliError
        from minik8s.client.transport import from_rpc_error

        def requests():
            yield api_pb2.ExecRequest(namespace=self.namespace, name=self.pod, container=self.container,
                                      command=command, stdin=stdin is not None)
            if stdin is not None:
                while data := stdin.read(CHUNK):
                    yield api_pb2.ExecRequest(stdinData=data)
                yield api_pb2.ExecRequest(stdinClose=True)

        code, err = 0, []
        try:
            for o in self.client.exec_stream(requests()):
                if o.stdout and stdout is not None:
                    stdout.write(o.stdout)
                if o.stderr:
                    err.append(o.stderr)
                if o.error:
                    raise CliError(o.error)
                if o.HasField("exitCode"):
                    code = o.exitCode
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return code, b"".join(err)


def _report_stderr(stderr: bytes) -> None:
    # tar's note on absolute names says nothing about the copy, as kubectl keeps it quiet
    for line in stderr.decode(errors="replace").splitlines():
        if "Removing leading" not in line and "removing leading" not in line:
            print(line, file=sys.stderr)


def _failed(code: int) -> int:
    print(f"command terminated with exit code {code}", file=sys.stderr)
    return code


# ---------------------------------------------------------------- from the pod
def copy_from_pod(run: _Exec, path: str, dest: str) -> int:
    import tempfile
    with tempfile.TemporaryFile() as archive:
        code, stderr = run(["tar", "cf", "-", path], stdout=archive)
        _report_stderr(stderr)
        if code != 0:
            return _failed(code)
        archive.seek(0)
        untar(archive, _member_name(path), dest)
    return 0


def _member_name(path: str) -> str:
    """The name tar gives `path` in its archive: no leading slash, no `.` steps."""
    name = os.path.normpath(path).lstrip("/")
    return "" if name == "." else name


def untar(archive, prefix: str, dest: str) -> None:
    """Unpack the entries under `prefix` into `dest`, `prefix` itself becoming `dest`."""
    import tarfile
    root = os.path.realpath(dest)
    with tarfile.open(fileobj=archive, mode="r|") as tar:
        for member in tar:
            name = os.path.normpath(member.name).lstrip("/")
            if name == prefix:
                rel = ""
            elif not prefix or name.startswith(prefix + "/"):
                rel = name[len(prefix):].lstrip("/")
            else:
                continue
            target = os.path.join(dest, rel) if rel else dest
            if not rel and member.isfile() and os.path.isdir(dest):
                target = os.path.join(dest, os.path.basename(name))
            real = os.path.realpath(target)
            if real != root and not real.startswith(root + os.sep):
                print(f"warning: file {target!r} is outside target destination, skipping", file=sys.stderr)
                continue
            if member.issym() or member.islnk():
                print(f"warning: skipping symlink: {target!r} -> {member.linkname!r}", file=sys.stderr)
                continue
            if member.isdir():
                os.makedirs(target, exist_ok=True)
            elif member.isfile():
                os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
                with open(target, "wb") as out:
                    src = tar.extractfile(member)
                    while data := src.read(CHUNK):
                        out.write(data)
                os.chmod(target, member.mode & 0o777)


# ---------------------------------------------------------------- to the pod
def copy_to_pod(run: _Exec, src: str, dest: str) -> int:
    import tarfile
    import tempfile
    if dest.endswith("/") or run(["test", "-d", dest])[0] == 0:
        dest = os.path.join(dest, os.path.basename(os.path.normpath(src)))
    directory, name = os.path.split(os.path.normpath(dest))
    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            tar.add(src, arcname=name)
        archive.seek(0)
        command = ["tar", "-xmf", "-"] + (["-C", directory] if directory else [])
        code, stderr = run(command, stdin=archive)
    _report_stderr(stderr)
    return _failed(code) if code != 0 else 0
