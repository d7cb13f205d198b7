"""The README's "Using it" walk-through runs as written on a fresh clone (issue 9 item 4, AI-3, AI-4,
AI-5, AI-7, AI-15).

The commands are read from the README's code block and run one line at a time by bash, in a
directory laid out like a fresh clone (scenarios/, audio/ and docs/ of this checkout, nothing
else), through the installed `autoinform` console script, with no AUTOINFORM_* variable but the
FastAGI port (0, so that parallel runs do not collide). The commands that run until Ctrl-C (the
README says so on their line) are started, awaited until they serve, then interrupted: they must
exit 0. Other helpers change the output of several commands; only exit codes and a few stable
words are checked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
UNTIL_CTRL_C = "until Ctrl-C"


def walkthrough() -> list[str]:
    section = README.read_text(encoding="utf-8").split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```\n(.*?)^```", section, re.S | re.M)
    assert match, "README 'Using it' has no code block"
    return [line for line in match.group(1).replace("\\\n", " ").splitlines() if line.strip()]


def test_the_walkthrough_is_what_this_test_runs() -> None:
    lines = walkthrough()
    assert lines[0].startswith("cp docs/autoinform.sandbox.toml autoinform.toml")
    assert any("run --sandbox --until-idle" in line for line in lines)
    commands = [re.sub(r"^AUTOINFORM_TOKEN_FILE=\S+ ", "", line) for line in lines]  # acting as someone
    assert all(line.startswith(("autoinform ", "cp ", "printf ")) for line in commands), lines
    assert lines[1].startswith("autoinform users add admin --role admin ")  # the bootstrap (issue 12)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for name in ("scenarios", "audio", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def _env(clone: Path) -> dict[str, str]:
    scripts = Path(sys.executable).parent
    assert (scripts / "autoinform").exists(), f"no autoinform console script beside {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOINFORM_")}
    env |= {"PATH": f"{scripts}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "200",
            "AUTOINFORM_IVR__PORT": "0",
            "HOME": str(clone / "home")}  # the first admin's ~/.config/autoinform/token (issue 12)
    return env


def _serve_then_interrupt(line: str, clone: Path, env: dict[str, str]) -> str:
    proc = subprocess.Popen(["bash", "-c", line], cwd=clone, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    seen: list[str] = []
    for out in proc.stdout:  # until it says it serves (or exits: the loop ends at end of output)
        seen.append(out)
        if "FastAGI on" in out:
            break
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(seen) + rest
    assert proc.returncode == 0, f"{line!r} exited {proc.returncode}:\n{output}"
    return output


@pytest.mark.timeout(600)
def test_item4_readme_walkthrough_runs_as_written(clone: Path) -> None:
    """Issue 9 item 4: every command of "Using it" exits 0 on a fresh clone with the embedded
    defaults; before, `scenarios render` failed (`name: the customer has no name`), `run` stopped
    (`SMTP 127.0.0.1:25 unreachable`) and `results history` named an account nobody had."""
    env = _env(clone)
    outputs: dict[str, str] = {}
    for line in walkthrough():
        if UNTIL_CTRL_C in line:
            outputs[line] = _serve_then_interrupt(line, clone, env)
            continue
        done = subprocess.run(["bash", "-c", line], cwd=clone, env=env, capture_output=True, text=True,
                              timeout=300)
        outputs[line] = done.stdout + done.stderr
        assert done.returncode == 0, f"{line!r} exited {done.returncode}:\n{outputs[line]}"

    def output(start: str) -> str:
        return next(out for line, out in outputs.items()
                    if re.sub(r"^AUTOINFORM_TOKEN_FILE=\S+ ", "", line).startswith(start))

    assert "Справки" in output("autoinform scenarios render debt_reminder")
    assert "sandbox" in output("autoinform run --sandbox")
    assert "completed" in output("autoinform campaigns show 1")
    assert "300100000002" in output("autoinform results history 300100000002")
    assert "минус пять рублей" in output("autoinform say money -5")
    assert list((clone / "var" / "sandbox" / "outbox").glob("*.eml")), "no e-mail reached the sandbox outbox"
    assert (clone / "home" / ".config" / "autoinform" / "token").stat().st_mode & 0o077 == 0
    assert "approved by petrov" in output("autoinform campaigns show 1")


def test_the_readme_names_the_demo_users_the_demo_makes() -> None:
    """Issue 12 item 5: the README says where the demo's dashboard is and who logs in with which
    password file; those are the users autoinform/demo.py creates."""
    from autoinform.demo import DEMO_USERS

    text = README.read_text(encoding="utf-8")
    section = text.split("Then the demo serves the dashboard", 1)[1].split("\n## ", 1)[0]
    assert "http://127.0.0.1:8080/" in section and "/login" in section and "--no-serve" in section
    rows = re.findall(r"^\| `([\w.]+)` \| (\w+) \| `var/demo/([\w.]+)\.password` \|", section, re.M)
    assert len(rows) == len(DEMO_USERS)
    assert set(rows) == {(login, role.value, login) for login, role, _ in DEMO_USERS}
