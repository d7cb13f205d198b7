"""A real Asterisk 22 for integration tests: the relocatable build in ../shared/asterisk/prebuilt/.

`unpack()` extracts the tarball once into a cache directory named by its checksum (later sessions
reuse it); `ensure_debs()` installs the Debian libraries its runtime-debs.txt lists when they are
missing (as root) or names them; `AsteriskInstance.start()` writes the project's test
configuration (the AMI user of docs/asterisk/manager.conf with a test secret on a free loopback
port, the dialplan of docs/asterisk/extensions.conf plus tests/asterisk/extensions-test.conf) and
starts it with the prebuilt's own start-asterisk.sh; `stop()` stops exactly that process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from autoinform.config import AmiSettings

ROOT = Path(__file__).resolve().parents[2]
PREBUILT = Path(os.environ.get("AUTOINFORM_ASTERISK_PREBUILT", ROOT.parent / "shared" / "asterisk" / "prebuilt"))
TARBALL_GLOB = "asterisk-*.tar.xz"
DOCS = ROOT / "docs" / "asterisk"
TEST_DIALPLAN = Path(__file__).resolve().parent / "extensions-test.conf"
REQUIRE_ENV = "AUTOINFORM_TEST_REQUIRE_ASTERISK"
AMI_USER = "autoinform"  # the production user of docs/asterisk/manager.conf, permissions and filters as documented
ADMIN_USER = "test-admin"  # read/write all, for tests that look at what the engine's user may not
CHANNEL_VARS = ("DELIVERY_ID", "ATTEMPT_ID", "QUEUESTATUS")


# Answering-machine detection tuned for test calls of a second or two (the production defaults
# listen up to 5 s): silence at first for 0.5 s is a machine, a word over 1.5 s is a greeting.
AMD_CONF = """[general]
initial_silence = 500
greeting = 1500
after_greeting_silence = 300
total_analysis_time = 2000
min_word_length = 100
maximum_word_length = 1500
"""


# The CDR as the engine reads it (docs/phone.md, "The CDR"): unanswered and congested calls logged
# too (Asterisk's default logs answered calls only), Master.csv with the Uniqueid column.
CDR_CONF = """[general]
enable = yes
unanswered = yes
congestion = yes

[csv]
usegmtime = yes
loguniqueid = yes
loguserfield = yes
accountlogs = no
"""




def pjsip_conf(sip_port: int) -> str:
    """A UDP transport on this instance's port and the endpoint `loop`, whose contact is this same
    Asterisk: `PJSIP/<number>@loop` is a real SIP call (RTP, DTMF by RFC 4733) arriving in
    [from-loop] (extensions-test.conf) as the customer (the prebuilt README's loop endpoint)."""
    return f"""[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{sip_port}

[loop]
type = endpoint
transport = transport-udp
context = from-loop
disallow = all
allow = ulaw,alaw
aors = loop
dtmf_mode = rfc4733
direct_media = no
rtp_symmetric = yes

[loop]
type = aor
contact = sip:loop@127.0.0.1:{sip_port}

[loop]
type = identify
endpoint = loop
match = 127.0.0.1
"""


# The operators' queues of docs/asterisk/extensions.conf's [autoinform-operator] (AI-8): members are
# Local channels into extensions-test.conf's [test-operator], which answers after 2 s.
QUEUES_CONF = """[general]
persistentmembers = no

[operators]
strategy = ringall
timeout = 15
retry = 1
ringinuse = yes
joinempty = yes
leavewhenempty = no
member => Local/s@test-operator/n

; no operator ever answers: the caller's wait (AUTOINFORM_OPERATOR_WAIT) runs out
[operators-away]
strategy = ringall
timeout = 15
retry = 1
ringinuse = yes
joinempty = yes
leavewhenempty = no
member => Local/s@test-operator-away/n
"""
# The project's prompts (audio/, as `autoinform audio` builds them) cut to this many seconds: the
# flow plays what production plays, in test calls of a second or two.
PROMPT_CUT_S = 0.3


def install_sounds(target: Path, audio_dir: Path = ROOT / "audio", cut_s: float = PROMPT_CUT_S) -> Path:
    """A sounds directory as Asterisk expects it (ivr/prompts.py playback_name: sounds/ru/autoinform/
    <prompt id>.wav), every prompt cut to `cut_s`; and sounds/autoinform-test/silence.wav, 2 s of
    digital silence (what an answering machine's quiet start sounds like to AMD)."""
    for wav in audio_dir.rglob("*.wav"):
        out = target / "ru" / "autoinform" / wav.relative_to(audio_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(wav), "rb") as src:
            params = src.getparams()
            frames = src.readframes(int(params.framerate * cut_s))
        with wave.open(str(out), "wb") as dst:
            dst.setparams(params)
            dst.writeframes(frames)
    silence = target / "autoinform-test" / "silence.wav"
    silence.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(silence), "wb") as dst:
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(8000)
        dst.writeframes(b"\0\0" * 16000)
    return target


class Unavailable(Exception):
    """No prebuilt Asterisk here, or it cannot run: the tests skip (or fail under REQUIRE_ENV)."""


def tarball() -> Path:
    found = sorted(PREBUILT.glob(TARBALL_GLOB)) if PREBUILT.is_dir() else []
    if not found:
        raise Unavailable(f"no prebuilt Asterisk at {PREBUILT} (../shared/asterisk/prebuilt beside the clone, "
                          f"or AUTOINFORM_ASTERISK_PREBUILT)")
    return found[-1]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_root() -> Path:
    return Path(os.environ.get("AUTOINFORM_ASTERISK_CACHE", Path(tempfile.gettempdir()) / "autoinform-asterisk"))


def unpack(archive: Path | None = None) -> Path:
    """The unpacked tree for this tarball, extracted on first use; keyed by the tarball's sha256 so
    a new build is never confused with an old one, and renamed into place so that a half-finished
    extraction is never used."""
    archive = archive or tarball()
    target = cache_root() / _sha256(archive)[:16]
    if (target / "sbin" / "asterisk").is_file() and (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="tar")
        (staging / ".complete").touch()
        try:
            staging.rename(target)
        except OSError:  # another session won the race, or a stale incomplete tree: replace it
            if not (target / ".complete").is_file():
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def runtime_debs(home: Path) -> list[str]:
    listing = home / "runtime-debs.txt"
    if not listing.is_file():
        listing = PREBUILT / "runtime-debs.txt"
    names = []
    for line in listing.read_text().splitlines():
        name = line.split("#", 1)[0].strip().split()
        if name:
            names.append(name[0])
    return names


def _installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return True  # not Debian: the start script's ldd check has the last word
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return "ok installed" in out.stdout


def ensure_debs(home: Path) -> list[str]:
    """Install the missing runtime packages (root only); returns those installed."""
    missing = [p for p in runtime_debs(home) if not _installed(p)]
    if not missing:
        return []
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(f"Debian packages the prebuilt Asterisk needs are missing: {' '.join(missing)} "
                          f"(apt-get install {' '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        result = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise Unavailable(f"apt-get install {' '.join(missing)} failed: {result.stderr.strip()[-500:]}")
    return missing


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def manager_conf(port: int, secret: str, admin_secret: str) -> str:
    """manager.conf: [general] for this test instance, then the documented `autoinform` user
    (docs/asterisk/manager.conf: its permissions and event filters as shipped, only the secret
    replaced), and an all-powerful admin user for the tests' own inspection."""
    doc = (DOCS / "manager.conf").read_text()
    match = re.search(r"^\[autoinform\]\n(?P<body>.*?)(?=^\[|\Z)", doc, re.M | re.S)
    if match is None:
        raise AssertionError("docs/asterisk/manager.conf has no [autoinform] section")
    body = re.sub(r"^secret\s*=.*$", f"secret = {secret}", match.group("body"), flags=re.M)
    return (f"[general]\nenabled = yes\nwebenabled = no\nport = {port}\nbindaddr = 127.0.0.1\n"
            f"displayconnects = no\nchannelvars = {','.join(CHANNEL_VARS)}\n\n"
            f"[{AMI_USER}]\n{body.rstrip()}\n\n"
            f"[{ADMIN_USER}]\nsecret = {admin_secret}\ndeny = 0.0.0.0/0.0.0.0\n"
            f"permit = 127.0.0.1/255.255.255.255\nread = all\nwrite = all\n")


def extensions_conf(extra: str = "") -> str:
    return ((DOCS / "extensions.conf").read_text() + "\n\n; ---- tests/asterisk/extensions-test.conf ----\n"
            + TEST_DIALPLAN.read_text() + ("\n" + extra if extra else ""))


@dataclass
class AsteriskInstance:
    """One running Asterisk in its own runtime dir (under 80 characters: the control socket)."""

    home: Path
    runtime: Path
    ami_port: int = field(default_factory=free_port)
    sip_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    secret: str = field(default_factory=lambda: os.urandom(12).hex())
    admin_secret: str = field(default_factory=lambda: os.urandom(12).hex())
    extra_dialplan: str = ""
    pid: int | None = None

    @property
    def env(self) -> dict[str, str]:
        overlay = self.runtime.parent / f"{self.runtime.name}-overlay"
        return {**os.environ, "AST_AMI_PORT": str(self.ami_port), "AST_SIP_PORT": str(self.sip_port),
                "AST_CONF_OVERLAY": str(overlay), "AST_NO_APT": "1", "AST_SOUND_DEBS": "",
                "AST_VERBOSE": "3", "AST_BOOT_TIMEOUT": "60",
                "AST_SOUNDS_DIR": str(self.runtime.parent / f"{self.runtime.name}-sounds")}

    def write_config(self) -> None:
        overlay = Path(self.env["AST_CONF_OVERLAY"])
        overlay.mkdir(parents=True, exist_ok=True)
        (overlay / "manager.conf").write_text(manager_conf(self.ami_port, self.secret, self.admin_secret))
        (overlay / "amd.conf").write_text(AMD_CONF)
        (overlay / "queues.conf").write_text(QUEUES_CONF)
        (overlay / "cdr.conf").write_text(CDR_CONF)
        (overlay / "pjsip.conf").write_text(pjsip_conf(self.sip_port))
        install_sounds(Path(self.env["AST_SOUNDS_DIR"]))
        (self.runtime.parent / f"{self.runtime.name}-extensions.conf").write_text(extensions_conf(self.extra_dialplan))

    def start(self) -> None:
        if len(str(self.runtime)) > 80:
            raise Unavailable(f"runtime dir path over 80 characters: {self.runtime}")
        self.write_config()
        ext = self.runtime.parent / f"{self.runtime.name}-extensions.conf"
        result = subprocess.run([str(self.home / "start-asterisk.sh"), str(self.home), str(self.runtime), str(ext)],
                                env=self.env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"start-asterisk.sh failed ({result.returncode}):\n{result.stderr[-3000:]}")
        pid = re.search(r"^AST_PID=(\d+)$", result.stdout, re.M)
        self.pid = int(pid.group(1)) if pid else None

    def stop(self) -> None:
        if self.pid is None:
            return
        subprocess.run([str(self.home / "stop-asterisk.sh"), str(self.runtime), str(self.home)],
                       capture_output=True, text=True, timeout=60)
        self.pid = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        if self.pid is None:
            return False
        with contextlib.suppress(OSError):
            os.kill(self.pid, 0)
            return True
        return False

    def cli(self, command: str) -> str:
        result = subprocess.run([str(self.runtime / "cli"), command], capture_output=True, text=True, timeout=30)
        return result.stdout

    def ami_settings(self, *, admin: bool = False, **overrides: object) -> AmiSettings:
        values: dict[str, object] = {
            "host": "127.0.0.1", "port": self.ami_port, "username": ADMIN_USER if admin else AMI_USER,
            "secret": SecretStr(self.admin_secret if admin else self.secret), "connect_timeout_s": 10.0,
            "action_timeout_s": 10.0, "reconnect_base_s": 0.05, "reconnect_max_s": 0.5, **overrides}
        return AmiSettings(**values)  # type: ignore[arg-type]

    @property
    def cdr_csv(self) -> Path:
        """cdr_csv's Master.csv of this instance (CDR_CONF)."""
        return self.runtime / "log" / "cdr-csv" / "Master.csv"

    def log_tail(self, lines: int = 40) -> str:
        path = self.runtime / "log" / "full"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""
