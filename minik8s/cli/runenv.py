"""The Python environment of a `minictl run`, built on the node by the run's `environment` init container:
a virtualenv without pip at ENVS/KEY, KEY being a hash of the interpreter and the requirements, so every
later run with the same requirements finds it built and reuses it.

This file is the init container's program, run as `python -c SOURCE ENVS/KEY REQUIREMENTS` with the
node's (process runtime) or the image's (Docker) interpreter: it imports the standard library alone,
never minik8s. It builds into a temporary directory beside the target and renames it into place, under
a lock, so a failed or concurrent build never leaves a half environment behind. The interpreter's own pip
installs into the environment's site-packages (`--target`); the environment gets no pip of its own, so
the training container that runs its python has no package installer.

Exit status: 0 built or reused; UNSATISFIABLE (3) when pip could not install the requirements (the Job
fails at once on it, by its podFailurePolicy); 4 when the interpreter has no pip to build with."""
import fcntl
import os
import shutil
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


def _install(env: str, requirements: str) -> int:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    cmd = [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
           "--no-warn-script-location", "--target", _site_packages(env), "-r", requirements]
    return subprocess.run(cmd, stdout=sys.stdout, stderr=sys.stderr).returncode


def build(target: str, requirements: str) -> int:
    root, key = os.path.split(target.rstrip("/"))
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, f".{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # a second run with the same requirements waits, then reuses
        if os.path.exists(os.path.join(target, READY_FILE)):
            print(f"environment {key}: reused", flush=True)
            return 0
        if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
            print(f"environment {key}: {sys.executable} has no pip to install the requirements with",
                  file=sys.stderr, flush=True)
            return NO_PIP
        print(f"environment {key}: building", flush=True)
        work = tempfile.mkdtemp(prefix=f".{key}.", dir=root)
        try:
            if _install(work, requirements):
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
    sys.exit(build(sys.argv[1], sys.argv[2]))
