"""A real IMAP server for tests: Debian's dovecot-imapd, started on a free loopback port with its
own configuration in a temporary folder (no system configuration, no root-owned files), plain
login over loopback, one passwd-file user. Run as the invoking user, or as `nobody` when that is
root (Dovecot refuses mail access as uid 0).

Absent dovecot skips the test with a clear message; under CI=true it fails instead (CI installs
the dovecot-imapd package).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "bounces"
PASSWORD = "imap-test-pass-0123"


@dataclass(frozen=True)
class ImapServer:
    port: int
    user: str
    password: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(root: Path, port: int, user: str, group: str) -> str:
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextlib.contextmanager
def dovecot() -> Iterator[ImapServer]:
    binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if binary is None:
        message = "dovecot not installed (Debian package dovecot-imapd): the IMAP bounce reader is not tested"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    as_root = os.geteuid() == 0
    account = pwd.getpwnam("nobody") if as_root else pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(account.pw_gid).gr_name
    root = Path(tempfile.mkdtemp(prefix="ai-dovecot-"))
    port = _free_port()
    try:
        for d in ("run", "state", "home"):
            (root / d).mkdir()
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, port, account.pw_name, group), encoding="utf-8")
        os.chmod(root, 0o755)
        if as_root:
            for path in [root, *root.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
        proc = subprocess.Popen([binary, "-F", "-c", str(conf)], cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT,
                                **({"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
                                   if as_root else {}))
        try:
            _wait_listening(port, proc, root / "dovecot.log")
            yield ImapServer(port, USER, PASSWORD, root / "dovecot.log")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the IMAP port answers (Dovecot binds it right after start-up); bounded."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}: "
                               f"{log.read_text() if log.exists() else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if s.recv(64).startswith(b"* OK"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on {port}: {log.read_text() if log.exists() else ''}")
