"""The Python environment of a `minictl run`, built on the node by the run's `environment` init container:
a virtualenv without pip at ENVS/KEY, KEY being a hash of the interpreter and the requirements, so every
later run with the same requirements finds it built and reuses it.

This file is the init container's program, run as `python -c SOURCE ENVS/KEY REQUIREMENTS [PIP_WHEEL]`
with the node's (process runtime) or the image's (Docker) interpreter: it imports the standard library
alone, never minik8s. It builds into a temporary directory beside the target and renames it into place,
under a lock, so a failed, stopped or concurrent build never leaves a half environment behind. The
interpreter's own pip, or else pip run from its wheel (PIP_WHEEL, for an image without pip), installs
into the environment's site-packages (`--target`); the environment gets no pip of its own, so the
training container that runs its python has no package installer.

Exit status: 0 built or reused; UNSATISFIABLE (3) when pip could not install the requirements (the Job
fails at once on it, by its podFailurePolicy); 4 when the interpreter has no pip to build with."""
import fcntl
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile

UNSATISFIABLE = 3
NO_PIP = 4
READY_FILE = "pyvenv.cfg"


def _site_packages(env: str) -> str:
    out = subprocess.run([os.path.join(env, "bin", "python"), "-c",
                          "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _pip(wheel: str) -> list[str]:
    """How to run pip: the interpreter's own, else from its wheel (a wheel of pip runs as a zip)."""
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0:
        return [sys.executable, "-m", "pip"]
    return [sys.executable, os.path.join(wheel, "pip")] if wheel and os.path.isfile(wheel) else []


def _install(pip: list[str], env: str, requirements: str) -> int:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    cmd = [*pip, "install", "--no-input", "--disable-pip-version-check",
           "--no-warn-script-location", "--target", _site_packages(env), "-r", requirements]
    return subprocess.run(cmd, stdout=sys.stdout, stderr=sys.stderr).returncode


def build(target: str, requirements: str, wheel: str = "") -> int:
    root, key = os.path.split(target.rstrip("/"))
    os.makedirs(root, exist_ok=True)
    # one lock for the node's builds, so a failed one leaves no file of its own: a second run with the same
    # requirements waits, then reuses
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(target, READY_FILE)):
            print(f"environment {key}: reused", flush=True)
            return 0
        pip = _pip(wheel)
        if not pip:
            print(f"environment {key}: {sys.executable} has no pip to install the requirements with",
                  file=sys.stderr, flush=True)
            return NO_PIP
        for stale in glob.glob(os.path.join(root, f".{key}.*")):
            if os.path.isdir(stale):          # a build killed before its cleanup: the lock says it is over
                shutil.rmtree(stale, ignore_errors=True)
        print(f"environment {key}: building", flush=True)
        work = tempfile.mkdtemp(prefix=f".{key}.", dir=root)
        try:
            if _install(pip, work, requirements):
                print(f"environment {key}: the requirements could not be installed", file=sys.stderr, flush=True)
                return UNSATISFIABLE
            os.chmod(work, 0o755)
            os.rename(work, target)
            work = ""
        finally:
            if work:
                shutil.rmtree(work, ignore_errors=True)
        print(f"environment {key}: built", flush=True)
        return 0


if __name__ == "__main__":
    # a deleted pod's SIGTERM unwinds the build, so its temporary directory is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(build(*sys.argv[1:4]))
