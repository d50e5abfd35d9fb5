"""`minictl images build [IMAGE...] [--runtime docker]` and `minictl images ls`: the project's local images,
built on this machine from what Debian ships, without any registry (nothing is pulled). A build is a
no-op for an image that is already there, and says what it is doing as it goes.

  minik8s/busybox:latest  FROM scratch plus Debian's static busybox (package busybox-static): the
                          image lessons, tests and examples run shells and web servers in
  minik8s/python:3.11     `debootstrap --variant=minbase bookworm` with python3, imported with
                          `docker import` (a minute or more: it downloads a Debian base system)
  perl:5.34.0             the same with perl: a local stand-in for Docker Hub's image, so that the
                          Kubernetes docs' pi Job runs unchanged

`scripts/build-images` calls this. The process runtime runs a container's command on the host and
ignores its image, so with `--runtime process` there is nothing to build. Talks to the Docker engine
through the `docker` command line, as a user would."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

from minik8s.cli.common import CliError, Parser, global_flags

BUSYBOX = "minik8s/busybox:latest"
PYTHON = "minik8s/python:3.11"
PERL = "perl:5.34.0"
# the Debian images: packages and command. perl 5.36's own Math::BigInt dies in the pi Job's
# bpi(2000); Debian's newer libmath-bigint-perl computes it.
DEBIAN_IMAGES = {PYTHON: ("python3,python-is-python3", '["python3"]'),
                 PERL: ("perl,libmath-bigint-perl", '["perl"]')}
DEBIAN_SUITE = "bookworm"
DOCKER_INFO_TIMEOUT = 15.0

BUSYBOX_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["sh"]
"""

NO_IMAGES = ("the process runtime runs each container's command on the host and ignores its image: "
             "nothing to build")


def _flags(p) -> None:
    sub = p.add_subparsers(dest="images_command", metavar="COMMAND", parser_class=Parser, required=True)
    b = sub.add_parser("build", help="Build the project's images that are missing",
                       description="Build the project's images that are missing (all of them, or IMAGE...)")
    global_flags(b)
    b.add_argument("images", nargs="*", metavar="IMAGE", help=f"{', '.join(BUILDERS)} (default: all)")
    b.add_argument("--runtime", choices=("docker", "process"), default="docker",
                   help="the runtime the images are for (default docker)")
    ls = sub.add_parser("ls", help="List the project's images", description="List the project's images")
    global_flags(ls)


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("images", "imagecmds:cmd_images", "Build or list the project's local images", _flags),
]


def cmd_images(args) -> int:
    if args.images_command == "ls":
        return list_images()
    if args.runtime == "process":
        print(NO_IMAGES)
        return 0
    wanted = args.images or list(BUILDERS)
    unknown = [name for name in wanted if name not in BUILDERS]
    if unknown:
        raise CliError(f"unknown image {unknown[0]!r}: minictl builds {', '.join(BUILDERS)}")
    require_docker()
    for name in dict.fromkeys(wanted):
        if image_id(name):
            progress(f"{name} exists")
            continue
        t0 = time.monotonic()
        BUILDERS[name](name)
        progress(f"built {name} in {time.monotonic() - t0:.0f} s")
    return 0


def list_images() -> int:
    require_docker()
    rows = [("IMAGE", "IMAGE ID", "CREATED", "SIZE")]
    for name in BUILDERS:
        info = inspect(name)
        if info is None:
            rows.append((name, "<not built>", "", ""))
        else:
            rows.append((name, info["Id"].split(":")[-1][:12], info["Created"][:19].replace("T", " "),
                         f"{info['Size'] / 1e6:.1f}MB"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


# ---------------------------------------------------------------- the engine
def progress(line: str) -> None:
    print(f"images: {line}", flush=True)


def require_docker() -> None:
    if shutil.which("docker") is None:
        raise CliError("the docker command is not installed: images are built by a Docker engine")
    try:
        out = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                             text=True, timeout=DOCKER_INFO_TIMEOUT)
    except subprocess.TimeoutExpired:
        out = None
    if out is None or out.returncode != 0:
        raise CliError("no Docker engine answers (docker info failed)")


def inspect(name: str) -> dict | None:
    out = subprocess.run(["docker", "image", "inspect", name], capture_output=True, text=True)
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


def image_id(name: str) -> str | None:
    info = inspect(name)
    return info["Id"] if info else None


def _run(argv: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-20:])
        raise CliError(f"{what} failed:\n{tail}")
    return out


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise CliError(f"need root to apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if subprocess.run(argv, capture_output=True, env=env).returncode != 0:
        progress(f"apt-get install {' '.join(packages)} failed; running apt-get update and retrying")
        _run(["apt-get", "update", "-q"], "apt-get update", env=env)
        _run(argv, f"apt-get install {' '.join(packages)}", env=env)


# ---------------------------------------------------------------- minik8s/busybox
def is_static(path: str) -> bool:
    if not os.path.isfile(path):
        return False
    out = subprocess.run(["ldd", path], capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    text = out.stdout + out.stderr
    return "not a dynamic executable" in text or "statically linked" in text


def build_busybox(tag: str) -> None:
    if not is_static("/bin/busybox"):
        progress("installing Debian's busybox-static")
        apt_install("busybox-static")
    if not is_static("/bin/busybox"):
        raise CliError("/bin/busybox is not a static binary")
    with tempfile.TemporaryDirectory(prefix="minik8s-busybox.") as ctx:
        shutil.copy2("/bin/busybox", os.path.join(ctx, "busybox"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(BUSYBOX_DOCKERFILE)
        progress(f"building {tag} from /bin/busybox")
        # quiet unless it fails: the legacy builder prints a deprecation notice every time
        _run(["docker", "build", "-q", "--network", "none", "-t", tag, ctx], f"docker build of {tag}")


# ---------------------------------------------------------------- minik8s/python
def debian_mirror(suite: str) -> str | None:
    """The mirror this machine's apt uses for Debian `suite`: one-line sources.list entries, or deb822
    *.sources files."""
    d = "/etc/apt/sources.list.d"
    names = sorted(os.listdir(d)) if os.path.isdir(d) else []
    for path in ["/etc/apt/sources.list"] + [os.path.join(d, n) for n in names if n.endswith(".list")]:
        for words in (line.split() for line in _lines(path)):
            if words and words[0] == "deb":
                rest = words[1:]
                if rest and rest[0].startswith("["):
                    while rest and not rest[0].endswith("]"):
                        rest = rest[1:]
                    rest = rest[1:]
                if len(rest) >= 2 and rest[1] == suite:
                    return rest[0]
    for path in (os.path.join(d, n) for n in names if n.endswith(".sources")):
        for stanza in "\n".join(_lines(path)).split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line)
            if "deb" in fields.get("Types", "").split() and suite in fields.get("Suites", "").split():
                uris = fields.get("URIs", "").split()
                if uris:
                    return uris[0]
    return None


def _lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return [line.rstrip("\n") for line in f]
    except OSError:
        return []


def build_debian(tag: str) -> None:
    suite = os.environ.get("MINIK8S_DEBIAN_SUITE", DEBIAN_SUITE)
    mirror = os.environ.get("MINIK8S_DEBIAN_MIRROR") or debian_mirror(suite)
    if not mirror:
        raise CliError(f"no apt source for Debian {suite} in /etc/apt/sources.list{{,.d/*}}: "
                       "set MINIK8S_DEBIAN_MIRROR")
    if shutil.which("debootstrap") is None:
        progress("installing debootstrap")
        apt_install("debootstrap")
    packages, cmd = DEBIAN_IMAGES[tag]
    root = tempfile.mkdtemp(prefix="minik8s-rootfs.", dir="/var/tmp")
    try:
        progress(f"debootstrap --variant=minbase {suite} from {mirror} (a minute or more)")
        _debootstrap(suite, root, mirror, packages)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(os.path.join(root, junk), ignore_errors=True)
        progress(f"importing {tag}")
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        try:
            _run(["docker", "import", "--change", f"CMD {cmd}", "-", tag], f"docker import of {tag}",
                 stdin=tar.stdout)
        finally:
            tar.stdout.close()
            tar.wait()
    finally:
        _remove_rootfs(root)


def _debootstrap(suite: str, root: str, mirror: str, packages: str) -> None:
    """Runs debootstrap, printing each stage it enters (Retrieving, Validating, Extracting, ...) once."""
    proc = subprocess.Popen(["debootstrap", "--variant=minbase", f"--include={packages}",
                             suite, root, mirror], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stage, tail = "", []
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        words = line.split()
        if len(words) >= 2 and words[0] == "I:" and words[1] != stage:
            stage = words[1]
            progress(f"debootstrap: {line.strip()[3:]}")
    if proc.wait() != 0:
        raise CliError("debootstrap failed:\n" + "\n".join(tail))


def _remove_rootfs(root: str) -> None:
    """debootstrap mounts /proc and /sys inside its target: unmount them first, never delete through one."""
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(root + "/")]
    for m in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    if not any(os.path.ismount(m) for m in mounts):
        shutil.rmtree(root, ignore_errors=True)


BUILDERS = {BUSYBOX: build_busybox, PYTHON: build_debian, PERL: build_debian}

