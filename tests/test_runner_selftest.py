"""Self-test of tutorials/runner.py on small synthetic lessons (plain shell, no minik8s)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `pytest` run without `python -m` from the repo root
    sys.path.insert(0, str(ROOT))

from tutorials.runner import (  # noqa: E402
    Command,
    FileBlock,
    LessonError,
    match_output,
    parse_lesson,
    run_lesson,
)

FENCE = "```"


def lesson(tmp_path: Path, body: str, name: str = "lesson.md") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body).replace("'''", FENCE))
    return p


def run(tmp_path: Path, body: str, **kw):
    return run_lesson(lesson(tmp_path, body), **kw)


# --- matcher ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expected, actual, ok",
    [
        (["a", "b"], "a\nb\n", True),
        (["a", "b"], "a\nc\n", False),
        (["a"], "a\nb\n", False),
        (["a", "b"], "a\n", False),
        # trailing whitespace and trailing blank lines are ignored
        (["a  ", "b"], "a\nb   \n\n\n", True),
        # "..." matches any number of lines, zero included, anywhere
        (["a", "...", "z"], "a\nz\n", True),
        (["a", "...", "z"], "a\nb\nc\nz\n", True),
        (["a", "...", "z"], "a\nb\nc\n", False),
        (["...", "z"], "x\ny\nz\n", True),
        (["a", "..."], "a\nanything\nelse\n", True),
        (["..."], "", True),
        (["...", "b", "...", "d", "..."], "a\nb\nc\nd\ne\n", True),
        (["...", "d", "...", "b", "..."], "a\nb\nc\nd\ne\n", False),
        # "[...]" matches any run of characters inside a line, the empty run included
        (["pod web-[...] Running"], "pod web-7f9c4 Running\n", True),
        (["pod web-[...] Running"], "pod web- Running\n", True),
        (["pod web-[...] Running"], "pod web-7f9c4 Pending\n", False),
        (["[...]"], "whatever\n", True),
        (["[...]"], "", False),
        (["uid=[...] rv=[...]"], "uid=1b2c rv=42\n", True),
        # other regex characters are literal
        (["a.b (c) *"], "a.b (c) *\n", True),
        (["a.b"], "axb\n", False),
        # "..." is only a wildcard as a whole line
        (["x ... y"], "x anything y\n", False),
        (["x ... y"], "x ... y\n", True),
    ],
)
def test_match_output(expected, actual, ok):
    assert match_output(expected, actual) is ok


def test_match_output_large_is_fast():
    act = "\n".join(f"line {i}" for i in range(3000))
    t0 = time.monotonic()
    assert match_output(["line 0", "...", "line 1500", "...", "line 2999"], act)
    assert not match_output(["...", "line 3000", "..."], act)
    assert time.monotonic() - t0 < 5


# --- parsing ---------------------------------------------------------------------------


def test_parse_commands_outputs_and_files():
    steps = parse_lesson(
        textwrap.dedent(
            """\
            # Lesson

            '''yaml
            # file: pod.yaml
            kind: Pod
            '''

            '''console
            $ echo one \\
                two
            one two
            $ false
            [exit 1]
            $ true
            '''

            '''console no-check
            $ date
            Mon Jan  1
            '''

            '''yaml
            kind: NotSaved
            '''
            """
        ).replace("'''", FENCE)
    )
    assert steps == [
        FileBlock("pod.yaml", "# file: pod.yaml\nkind: Pod\n", 4),
        Command("echo one \\\n    two", ("one two",), 0, True, 9),
        Command("false", (), 1, False, 12),
        Command("true", (), 0, False, 14),
        Command("date", ("Mon Jan  1",), 0, False, 18),
    ]


def test_parse_rejects_output_before_command_and_unclosed_fence():
    with pytest.raises(LessonError, match="before its first"):
        parse_lesson(f"{FENCE}console\nhello\n$ echo hi\n{FENCE}\n")
    with pytest.raises(LessonError, match="never closed"):
        parse_lesson(f"{FENCE}console\n$ echo hi\n")


def test_parse_ignores_blocks_nested_in_a_longer_fence():
    steps = parse_lesson(f"````markdown\n{FENCE}console\n$ exit 9\n{FENCE}\n````\n")
    assert steps == []


# --- running ---------------------------------------------------------------------------


def test_passing_lesson(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ echo hello
        hello
        $ printf 'a\\nb\\nc\\nd\\n'
        a
        ...
        d
        $ echo "pod/web-$RANDOM created"
        pod/web-[...] created
        '''
        """,
    ) == []


def test_output_mismatch_reports_a_diff(tmp_path):
    failures = run(
        tmp_path,
        """\
        '''console
        $ echo ok
        ok
        $ printf 'one\\ntwo\\n'
        one
        three
        $ echo never runs
        nope
        '''
        """,
    )
    assert len(failures) == 1  # stops at the first failure
    f = failures[0]
    assert f.line == 4 and f.command == "printf 'one\\ntwo\\n'"
    assert "output differs" in f.message
    text = str(f)
    assert "-three" in text and "+two" in text and "lesson.md:4" in text


def test_keep_going_reports_every_failure(tmp_path):
    failures = run(
        tmp_path,
        """\
        '''console
        $ echo a
        b
        $ echo c
        d
        '''
        """,
        keep_going=True,
    )
    assert [f.line for f in failures] == [2, 4]


def test_stderr_is_part_of_the_output_in_order(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ echo out; echo err >&2; echo out2
        out
        err
        out2
        '''
        """,
    ) == []


def test_nonzero_exit_fails_without_exit_line(tmp_path):
    failures = run(
        tmp_path,
        """\
        '''console
        $ echo boom; false
        boom
        '''
        """,
    )
    assert len(failures) == 1
    assert failures[0].exit_code == 1 and "exit status 1" in failures[0].message


def test_exit_line_accepts_that_code_only(tmp_path):
    body = """\
        '''console
        $ echo 'no such pod' >&2; exit {code}
        no such pod
        [exit 3]
        '''
        """
    assert run(tmp_path, body.format(code=3)) == []
    wrong = run(tmp_path, body.format(code=2))
    assert len(wrong) == 1 and "exit status 2, expected [exit 3]" in wrong[0].message
    succeeded = run(tmp_path, body.format(code=0))
    assert len(succeeded) == 1 and "exit status 0" in succeeded[0].message


def test_exit_line_alone_does_not_check_output(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ echo whatever; (exit 4)
        [exit 4]
        '''
        """,
    ) == []


def test_empty_expected_output_is_not_checked(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ echo unpredictable $RANDOM
        $ echo next
        next
        '''
        """,
    ) == []


def test_no_check_block_runs_but_does_not_compare(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console no-check
        $ echo actual > made.txt; echo actual
        something else entirely
        '''

        '''console
        $ cat made.txt
        actual
        '''
        """,
    ) == []
    failures = run(
        tmp_path,
        """\
        '''console no-check
        $ false
        '''
        """,
    )
    assert len(failures) == 1  # exit statuses are still checked


def test_continuation_lines(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ printf '%s-%s\\n' \\
            first \\
            second
        first-second
        $ echo done
        done
        '''
        """,
    ) == []


def test_file_blocks_are_written_in_order_into_the_working_directory(tmp_path):
    assert run(
        tmp_path,
        """\
        Save this:

        '''yaml
        # file: pod.yaml
        kind: Pod
        metadata:
          name: web
        '''

        '''console
        $ grep name: pod.yaml
          name: web
        $ ls
        pod.yaml
        '''

        '''yaml
        # file: manifests/pod.yaml
        kind: Pod
        metadata:
          name: db
        '''

        '''console
        $ grep name: manifests/pod.yaml
          name: db
        '''
        """,
    ) == []


def test_file_block_may_not_escape_the_working_directory(tmp_path):
    failures = run(
        tmp_path,
        """\
        '''yaml
        # file: ../evil.yaml
        kind: Pod
        '''
        """,
    )
    assert len(failures) == 1 and "relative path" in failures[0].message
    assert not (tmp_path.parent / "evil.yaml").exists()


def test_shell_state_persists_within_a_lesson(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ export GREETING=hello; plain=var; mkdir sub
        $ greet() { echo "$GREETING $1"; }
        $ cd sub && touch here
        $ greet "$plain"; basename "$PWD"; ls
        hello var
        sub
        here
        '''
        """,
    ) == []


def test_caller_env_reaches_commands(tmp_path):
    home = tmp_path / "mk-home"
    assert run(
        tmp_path,
        """\
        '''console
        $ echo "home=$MINIK8S_HOME"
        home=[...]/mk-home
        '''
        """,
        env={"MINIK8S_HOME": str(home)},
    ) == []


def test_each_lesson_gets_a_fresh_working_directory(tmp_path):
    body = """\
        '''console
        $ ls
        $ ls | wc -l
        0
        $ touch left-behind
        '''
        """
    assert run(tmp_path, body) == []
    assert run(tmp_path, body) == []


def test_shell_exit_is_a_status_and_the_lesson_continues(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ exit 7
        [exit 7]
        $ echo still here
        still here
        '''
        """,
    ) == []


def test_background_process_does_not_block_and_is_killed(tmp_path):
    marker = tmp_path / "bg.pid"
    t0 = time.monotonic()
    assert run(
        tmp_path,
        f"""\
        '''console
        $ sleep 300 & echo $! > {marker}
        $ echo after
        after
        '''
        """,
    ) == []
    assert time.monotonic() - t0 < 30
    pid = int(marker.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
        if "State:\tZ" in status:  # killed, waiting to be reaped by its parent
            break
        time.sleep(0.1)
    else:
        assert not Path(f"/proc/{pid}").exists()


def test_timeout(tmp_path):
    t0 = time.monotonic()
    failures = run(
        tmp_path,
        """\
        '''console
        $ sleep 60
        '''
        """,
        timeout=1,
    )
    assert len(failures) == 1 and "timed out" in failures[0].message
    assert time.monotonic() - t0 < 20


def test_commands_do_not_read_the_lesson_from_stdin(tmp_path):
    assert run(
        tmp_path,
        """\
        '''console
        $ cat; echo "rc=$?"
        rc=0
        $ echo next
        next
        '''
        """,
    ) == []


# --- command line ----------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MINIK8S_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "tutorials.runner", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_cli_passes_and_fails_with_a_diff(tmp_path):
    good = lesson(tmp_path, f"{FENCE}console\n$ echo hi\nhi\n{FENCE}\n", "01-good.md")
    bad = lesson(tmp_path, f"{FENCE}console\n$ echo hi\nbye\n{FENCE}\n", "02-bad.md")
    r = cli(str(good))
    assert r.returncode == 0, r.stderr
    r = cli(str(good), str(bad))
    assert r.returncode == 1
    assert "FAIL" in r.stderr and "02-bad.md:2" in r.stderr
    assert "--- expected" in r.stderr and "-bye" in r.stderr and "+hi" in r.stderr


def test_cli_env_option(tmp_path):
    p = lesson(tmp_path, f"{FENCE}console\n$ echo $MINIK8S_HOME\n/x/y\n{FENCE}\n")
    assert cli("--env", "MINIK8S_HOME=/x/y", str(p)).returncode == 0
    assert cli(str(p)).returncode == 1


def test_diff_shows_matching_wildcard_lines_as_unchanged(tmp_path):
    failures = run(
        tmp_path,
        """\
        '''console
        $ printf 'NAME AGE\\nweb  3s\\nextra\\n'
        NAME AGE
        web  [...]
        db   [...]
        '''
        """,
    )
    diff = failures[0].diff()
    assert " web  3s" in diff and "-db   [...]" in diff and "+extra" in diff
    assert "-web" not in diff
