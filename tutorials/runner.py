"""Runs a tutorial lesson (a markdown file) and checks that its transcripts still hold.

A lesson is executed top to bottom:

* A fenced block whose first line is ``# file: NAME`` (typically ```yaml) is saved as NAME in
  the lesson's working directory, at that point of the lesson (a later block may overwrite it).
* A fenced block with the info string ``console`` is a transcript. A line starting with
  ``$ `` is a shell command; a command line ending in ``\\`` continues onto the next line.
  The lines after a command, up to the next ``$ `` line, are its expected output.
  A block with the info string ``console no-check`` runs its commands without comparing
  output (exit codes are still checked).

Every command runs in one persistent bash per lesson: the working directory starts as a fresh
temporary directory, the environment is this process's plus the caller's ``env``, and
``cd``, variables, exports and functions carry over from one command to the next.
Background processes a lesson starts are killed when it ends.

The output (stdout and stderr together) is compared with the expected lines:

* trailing whitespace, and blank lines at the end, are ignored;
* a line ``...`` matches any number of lines, none included;
* inside a line, ``[...]`` matches any run of characters (uids, ages, resourceVersions);
* an empty expected block is not checked;
* a non-zero exit status fails the lesson unless the expected output's last line is
  ``[exit N]`` with that status (``[exit N]`` alone checks the status but not the output).

From the command line::

    python -m tutorials.runner tutorials/01-*.md [--env MINIK8S_HOME=/tmp/x]

runs the lessons in order, prints a diff at the first mismatch and exits 1.
For pytest, :func:`run_lesson` returns the list of :class:`Failure`\\ s (empty when it passes).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = [
    "Command",
    "FileBlock",
    "Failure",
    "LessonError",
    "parse_lesson",
    "match_output",
    "run_lesson",
    "main",
]

DEFAULT_TIMEOUT = 120.0

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_FILE_LINE = re.compile(r"^#\s*file:\s*(?P<name>\S+)\s*$")
_EXIT_LINE = re.compile(r"^\[exit (?P<code>-?\d+)\]$")
_WILDCARD_LINE = "..."
_WILDCARD_IN_LINE = "[...]"


class LessonError(Exception):
    """The lesson file itself is malformed (e.g. an unclosed fence)."""


@dataclasses.dataclass(frozen=True)
class FileBlock:
    """A fenced block saved as a file in the lesson's working directory."""

    name: str
    content: str
    line: int  # 1-based line of the block's first content line in the markdown


@dataclasses.dataclass(frozen=True)
class Command:
    """One ``$ `` command of a console transcript with what it is expected to print."""

    command: str  # as given to bash; continuation lines keep their backslash-newline
    expected: tuple[str, ...]  # expected output lines, ``[exit N]`` removed
    exit_code: int  # expected exit status (0 unless ``[exit N]``)
    check_output: bool  # False for ``console no-check`` blocks and empty expected output
    line: int  # 1-based line of the ``$ `` line in the markdown


@dataclasses.dataclass
class Failure:
    """A command whose output or exit status did not match the lesson."""

    path: str
    line: int
    command: str
    message: str
    expected: str = ""
    actual: str = ""
    exit_code: int | None = None
    expected_exit_code: int = 0

    def diff(self) -> str:
        exp = _normalize(self.expected.splitlines())
        act = _normalize(self.actual.splitlines())
        exp = _fill_wildcards(exp, act)
        return "\n".join(
            difflib.unified_diff(exp, act, "expected", "actual", lineterm="")
        )

    def __str__(self) -> str:
        out = [f"{self.path}:{self.line}: {self.message}", f"$ {self.command}"]
        d = self.diff() if self.expected else ""
        if d:
            out.append(d)
        elif self.actual.strip():
            out.append("output:")
            out.extend("  " + line for line in self.actual.rstrip().splitlines())
        return "\n".join(out)


def _fill_wildcards(exp: list[str], act: list[str]) -> list[str]:
    """For the diff only: an expected line with ``[...]`` that matches the actual line in the
    same place (counted from the start before any ``...`` line, from the end after the last)
    is shown as that actual line, so the diff points at the lines that really differ."""
    out = list(exp)
    for i in range(min(len(out), len(act))):  # from the start
        if out[i] == _WILDCARD_LINE:
            break
        if _WILDCARD_IN_LINE in out[i] and _line_pattern(out[i]).fullmatch(act[i]):
            out[i] = act[i]
    for k in range(1, min(len(out), len(act)) + 1):  # from the end
        if out[-k] == _WILDCARD_LINE:
            break
        if _WILDCARD_IN_LINE in out[-k] and _line_pattern(out[-k]).fullmatch(act[-k]):
            out[-k] = act[-k]
    return out


# ---------------------------------------------------------------------------------------
# parsing


def parse_lesson(text: str) -> list[FileBlock | Command]:
    """The steps of a lesson, in order: files to write and commands to run."""
    steps: list[FileBlock | Command] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group("indent"), m.group("fence"), m.group("info")
        start = i + 1
        j = start
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and set(close) == {fence[0]}:
                break
            j += 1
        else:
            raise LessonError(f"line {i + 1}: fenced block is never closed")
        body = [_dedent(line, indent) for line in lines[start:j]]
        words = info.split()
        lang = words[0].lower() if words else ""
        if lang == "console":
            steps.extend(_parse_console(body, start + 1, check="no-check" not in words[1:]))
        elif body and (fm := _FILE_LINE.match(body[0].strip())):
            content = "\n".join(body) + "\n"
            steps.append(FileBlock(fm.group("name"), content, start + 1))
        i = j + 1
    return steps


def _dedent(line: str, indent: str) -> str:
    return line[len(indent):] if indent and line.startswith(indent) else line


def _parse_console(body: Sequence[str], first_line: int, check: bool) -> list[Command]:
    commands: list[Command] = []
    k = 0
    while k < len(body) and not body[k].strip():
        k += 1
    while k < len(body):
        line = body[k]
        if not (line.startswith("$ ") or line.rstrip() == "$"):
            raise LessonError(
                f"line {first_line + k}: console block has output before its first '$ ' command"
            )
        cmd_line = first_line + k
        parts = [line[2:]]
        k += 1
        while parts[-1].endswith("\\") and k < len(body):
            parts.append(body[k])
            k += 1
        expected: list[str] = []
        while k < len(body) and not (body[k].startswith("$ ") or body[k].rstrip() == "$"):
            expected.append(body[k])
            k += 1
        expected = _normalize(expected)
        exit_code = 0
        if expected and (em := _EXIT_LINE.match(expected[-1].strip())):
            exit_code = int(em.group("code"))
            expected = _normalize(expected[:-1])
        commands.append(
            Command(
                command="\n".join(parts),
                expected=tuple(expected),
                exit_code=exit_code,
                check_output=check and bool(expected),
                line=cmd_line,
            )
        )
    return commands


# ---------------------------------------------------------------------------------------
# matching


def _normalize(lines: Iterable[str]) -> list[str]:
    out = [line.rstrip() for line in lines]
    while out and not out[-1]:
        out.pop()
    return out


def _line_pattern(expected: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in expected.split(_WILDCARD_IN_LINE)), re.S)


def match_output(expected: Sequence[str], actual: str | Sequence[str]) -> bool:
    """Whether ``actual`` output matches the ``expected`` lines (rules in the module doc)."""
    exp = _normalize(expected)
    act = _normalize(actual.splitlines() if isinstance(actual, str) else actual)
    pats = [None if e == _WILDCARD_LINE else _line_pattern(e) for e in exp]
    if None not in pats:
        return len(pats) == len(act) and all(p.fullmatch(a) for p, a in zip(pats, act))
    # ok[j]: pats[i:] matches act[j:], computed from the last expected line backwards.
    n = len(act)
    ok = [False] * n + [True]
    for pat in reversed(pats):
        new = [False] * (n + 1)
        if pat is None:  # "..." swallows zero or more lines
            new[n] = ok[n]
            for j in range(n - 1, -1, -1):
                new[j] = ok[j] or new[j + 1]
        else:
            for j in range(n):
                new[j] = ok[j + 1] and pat.fullmatch(act[j]) is not None
        ok = new
    return ok[0]


# ---------------------------------------------------------------------------------------
# running


class _Shell:
    """One bash per lesson; each command is sourced from a file with its output in a file.

    Output goes to a file rather than a pipe so that a command leaving a background process
    behind (``minik8s-apiserver &``) does not keep the runner waiting for end-of-file.
    """

    def __init__(self, cwd: Path, env: Mapping[str, str], ctl: Path):
        self.cwd, self.env, self.ctl = cwd, dict(env), ctl
        self.token = f"__minik8s_runner_{uuid.uuid4().hex}__"
        self.n = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._buf = b""

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed as a whole at the end
        )
        self._buf = b""

    def run(self, command: str, timeout: float) -> tuple[int | None, str, str]:
        """Runs ``command``; returns (exit status or None on timeout, output, note)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        self.n += 1
        script = self.ctl / f"cmd{self.n}.sh"
        out = self.ctl / f"out{self.n}"
        script.write_text(command + "\n")
        out.touch()
        line = (
            f". {_q(script)} > {_q(out)} 2>&1 < /dev/null; "
            f"printf '\\n{self.token} %d\\n' \"$?\"\n"
        )
        note = ""
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
            code = self._wait_status(timeout)
        except BrokenPipeError:
            code = self.proc.wait()
        if code is None:
            if self.proc.poll() is None:
                note = f"timed out after {timeout:g} s"
                self.kill()
            else:  # the shell itself exited (`exit N`, `set -e`, ...): report its status
                code = self.proc.returncode
                note = "the shell exited; the next command starts a fresh one"
                self.kill()
        return code, out.read_bytes().decode("utf-8", "replace"), note

    def _wait_status(self, timeout: float) -> int | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        marker = self.token.encode() + b" "
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                idx = self._buf.find(marker)
                if idx >= 0:
                    end = self._buf.find(b"\n", idx)
                    if end >= 0:
                        code = int(self._buf[idx + len(marker):end])
                        self._buf = self._buf[end + 1:]
                        return code
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if not sel.select(min(left, 0.5)):
                    # Gone without a status line, even if something it started still holds
                    # the pipe open (no end-of-file then).
                    if self.proc.poll() is not None:
                        return None
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:  # the shell is gone
                    self.proc.wait()
                    return None
                self._buf += chunk

    def kill(self) -> None:
        """Ends the shell and whatever it left running in its process group."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            end = time.monotonic() + grace
            while time.monotonic() < end and _group_alive(proc.pid):
                proc.poll()
                time.sleep(0.05)
            if not _group_alive(proc.pid):
                break
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if proc.stdout:
            proc.stdout.close()


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in the process group."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after "pid (comm)": state ppid pgrp ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _q(p: Path) -> str:
    return "'" + str(p).replace("'", "'\\''") + "'"


def _lesson_env(env: Mapping[str, str] | None) -> dict[str, str]:
    e = dict(os.environ)
    # The interpreter running the lesson (e.g. .venv/bin/python) puts its scripts (minictl)
    # first on PATH, so lessons work without an activated venv.
    bindir = os.path.dirname(sys.executable)
    path = e.get("PATH", os.defpath)
    if bindir and bindir not in path.split(os.pathsep):
        e["PATH"] = bindir + os.pathsep + path
    e.setdefault("NO_COLOR", "1")
    e["TERM"] = "dumb"
    e.pop("PROMPT_COMMAND", None)
    if env:
        e.update({k: str(v) for k, v in env.items()})
    return e


def _write_file(workdir: Path, block: FileBlock) -> Path:
    rel = Path(block.name)
    if rel.is_absolute() or ".." in rel.parts:
        raise LessonError(f"line {block.line}: '# file: {block.name}' must be a relative path inside the lesson")
    dest = workdir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(block.content)
    return dest


def run_lesson(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    keep_going: bool = False,
    workdir: str | os.PathLike[str] | None = None,
    verbose: bool = False,
) -> list[Failure]:
    """Runs the lesson at ``path``; returns its failures (an empty list when it passes).

    ``env`` is added to this process's environment for every command (e.g. MINIK8S_HOME).
    ``timeout`` bounds each command. Unless ``keep_going``, the lesson stops at its first
    failure (later steps usually depend on earlier ones). ``workdir``: run there instead of
    in a fresh temporary directory (which is removed afterwards).
    """
    path = Path(path)
    steps = parse_lesson(path.read_text())
    ctl = Path(tempfile.mkdtemp(prefix="minik8s-lesson-ctl-"))
    own_workdir = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="minik8s-lesson-")) if own_workdir else Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    shell = _Shell(wd.resolve(), _lesson_env(env), ctl)
    failures: list[Failure] = []
    try:
        for step in steps:
            if isinstance(step, FileBlock):
                try:
                    _write_file(wd, step)
                except LessonError as e:
                    failures.append(Failure(str(path), step.line, f"# file: {step.name}", str(e)))
                    if not keep_going:
                        break
                continue
            if verbose:
                print(f"$ {step.command}", file=sys.stderr)
            code, output, note = shell.run(step.command, timeout)
            failure = _check(path, step, code, output, note)
            if failure is not None:
                failures.append(failure)
                if not keep_going:
                    break
    finally:
        shell.kill()
        shutil.rmtree(ctl, ignore_errors=True)
        if own_workdir:
            shutil.rmtree(wd, ignore_errors=True)
    return failures


def _check(path: Path, step: Command, code: int | None, output: str, note: str) -> Failure | None:
    expected = "\n".join(step.expected)

    def fail(message: str) -> Failure:
        return Failure(
            path=str(path),
            line=step.line,
            command=step.command,
            message=message + (f" ({note})" if note else ""),
            expected=expected if step.check_output else "",
            actual=output if step.check_output or code != step.exit_code else "",
            exit_code=code,
            expected_exit_code=step.exit_code,
        )

    if code is None:
        return fail("command did not finish")
    if code != step.exit_code:
        want = f"[exit {step.exit_code}]" if step.exit_code else "success"
        return fail(f"exit status {code}, expected {want}")
    if step.check_output and not match_output(step.expected, output):
        return fail("output differs")
    return None


# ---------------------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tutorials.runner",
        description="Run tutorial lessons and check their console transcripts.",
    )
    ap.add_argument("lessons", nargs="+", help="lesson markdown files, run in the given order")
    ap.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="extra environment variable for the lessons (repeatable)",
    )
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per command")
    ap.add_argument("--keep-going", action="store_true", help="report every failure of a lesson")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo commands as they run")
    args = ap.parse_args(argv)
    env: dict[str, str] = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            ap.error(f"--env wants NAME=VALUE, got {item!r}")
        env[name] = value
    for lesson in args.lessons:
        t0 = time.monotonic()
        try:
            failures = run_lesson(
                lesson, env, timeout=args.timeout, keep_going=args.keep_going, verbose=args.verbose
            )
        except (OSError, LessonError) as e:
            print(f"FAIL {lesson}: {e}", file=sys.stderr)
            return 1
        if failures:
            print(f"FAIL {lesson}", file=sys.stderr)
            for f in failures:
                print(f, file=sys.stderr)
            return 1
        print(f"ok   {lesson} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
