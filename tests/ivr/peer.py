"""A test Asterisk: answers AGI commands the way Asterisk 22 did in shared/asterisk/transcripts/.

`AsteriskModel` is the behaviour (pure, no I/O): a caller on a virtual clock presses keys and hangs
up; each command advances the clock by its media time. What the recordings show and the model does:
- a key pressed while no key-reading command runs is lost; a key in a prompt's escape digits ends
  it and is consumed;
- a hang-up during a command answers `result=-1` (with `endpos` for STREAM FILE), then ~40 ms later
  an unsolicited `HANGUP` line; later channel commands get 511, variable commands 200;
- the socket stays open until the server closes it, unless AGIEXITONHANGUP (then `HANGUP` twice and
  close);
- missing prompt: `200 result=-1 endpos=0` for STREAM FILE on a live channel, `200 result=0` for
  EXEC Playback; unknown application `-2`; unknown command 510; missing arguments a 520 block.

`call()` drives it over a real loopback TCP connection; `pipe_call()` over a classic AGI's pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ivr.protocol import ENV_KEYS

DEAD_511 = b"511 Command Not Permitted on a dead channel or intercept routine\n"
USAGE = {
    "STREAM FILE": "Send the given file, allowing playback to be interrupted by the given digits, if any.",
    "GET DATA": "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
                "Returns the digits received from the channel at the other end.",
    "WAIT FOR DIGIT": "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to "
                      "receive a DTMF digit.",
    "SET VARIABLE": "Sets a variable to the current channel.",
}
# name -> (minimum argument count, runs on a dead channel)
COMMANDS: Mapping[str, tuple[int, bool]] = {
    "ANSWER": (0, False), "HANGUP": (0, True), "NOOP": (0, True), "CHANNEL STATUS": (0, False),
    "STREAM FILE": (2, False), "GET DATA": (1, False), "WAIT FOR DIGIT": (1, False),
    "SAY NUMBER": (2, False), "SAY DIGITS": (2, False), "SAY ALPHA": (2, False),
    "SAY DATE": (2, False), "SAY TIME": (2, False), "RECORD FILE": (4, False),
    "EXEC": (1, True), "SET VARIABLE": (2, True), "GET VARIABLE": (1, True),
    "GET FULL VARIABLE": (1, True), "VERBOSE": (1, True),
}
MEDIA = {"STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "SAY NUMBER", "SAY DIGITS", "SAY ALPHA",
         "SAY DATE", "SAY TIME", "RECORD FILE"}
KNOWN_APPS = {"Playback", "Wait", "NoOp", "Set", "Dial", "Queue"}


def split_args(line: str) -> list[tuple[str, bool]]:
    """Asterisk's parse_args: whitespace separates, `"` groups, `\\` escapes the next character.
    Returns (value, was quoted) pairs."""
    tokens: list[tuple[str, bool]] = []
    cur: list[str] = []
    quoted = in_token = was_quoted = escaped = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = in_token = True
        elif ch == '"':
            quoted, was_quoted, in_token = not quoted, True, True
        elif ch in " \t" and not quoted:
            if in_token:
                tokens.append(("".join(cur), was_quoted))
            cur, in_token, was_quoted = [], False, False
        else:
            cur.append(ch)
            in_token = True
    if in_token:
        tokens.append(("".join(cur), was_quoted))
    return tokens


def command_name(words: list[str]) -> tuple[str | None, list[str]]:
    """The longest known command name at the start of `words` (case-insensitive, like Asterisk)."""
    for n in (3, 2, 1):
        name = " ".join(words[:n]).upper()
        if len(words) >= n and name in COMMANDS:
            return name, words[n:]
    return None, words


@dataclass
class Caller:
    """The person on the phone. Times are virtual milliseconds from the start of the AGI."""

    keys: list[tuple[int, str]] = field(default_factory=list)
    hangup_at_ms: int | None = None
    hangup_at_command: int | None = None
    """Index (0-based) of the command during which the caller hangs up."""
    prompt_ms: Mapping[str, int] = field(default_factory=dict)
    default_prompt_ms: int = 1000
    missing_files: frozenset[str] = frozenset()


Output = tuple[float, bytes]
"""(seconds to wait first, bytes to send); bytes b"" means: close the socket."""


class AsteriskModel:
    def __init__(self, caller: Caller | None = None, *, exit_on_hangup: bool = False,
                 hangup_delay_s: float = 0.04) -> None:
        self.caller = caller or Caller()
        self.exit_on_hangup = exit_on_hangup
        self.hangup_delay_s = hangup_delay_s
        self.now = 0
        self.dead = False
        self.closed = False
        self.variables: dict[str, str] = {}
        self.commands: list[str] = []
        self.lost_keys: list[str] = []
        self.consumed_keys: list[str] = []
        self._keys = sorted(self.caller.keys)

    # --- the caller's clock -------------------------------------------------------------------

    def _hangup_within(self, until: int) -> int | None:
        h = self.caller.hangup_at_ms
        if h is not None and not self.dead and h < until:
            return max(h, self.now)
        return None

    def _next_key(self, until: int, accept: str) -> tuple[int, str] | None:
        """The first key before `until` that `accept` takes; keys before it that it refuses are lost."""
        while self._keys and self._keys[0][0] < until:
            at, key = self._keys.pop(0)
            if key in accept:
                self.consumed_keys.append(key)
                return max(at, self.now), key
            self.lost_keys.append(key)
        return None

    def _go_dead(self, reply: bytes, *, delay: bool = True) -> list[Output]:
        self.dead = True
        if self.exit_on_hangup:
            self.closed = True
            return [(0.0, reply + b"HANGUP\nHANGUP\n"), (0.0, b"")]
        out = [(0.0, reply)] if reply else []
        out.append((self.hangup_delay_s if delay else 0.0, b"HANGUP\n"))
        return out

    # --- commands -----------------------------------------------------------------------------

    def respond(self, line: str) -> list[Output]:
        index = len(self.commands)
        self.commands.append(line)
        tokens = split_args(line)
        name, args = command_name([t for t, _ in tokens])
        if name is None:
            return [(0.0, b"510 Invalid or unknown command\n")]
        min_args, dead_ok = COMMANDS[name]
        if len(args) < min_args:
            usage = USAGE.get(name, "Usage.")
            return [(0.0, f"520-Invalid command syntax.  Proper usage follows:\n{usage}\n"
                          f"520 End of proper usage.\n".encode())]
        if not self.dead and self.caller.hangup_at_command == index:
            if name in MEDIA:
                self.caller.hangup_at_ms = self.now  # hangs up as this command starts
            else:  # hung up just before: HANGUP first, then the answer a dead channel gets
                out = self._go_dead(b"", delay=False)
                if self.closed:
                    return out
                return out + self._dead_answer(name, args, dead_ok)
        if not self.dead and (h := self.caller.hangup_at_ms) is not None and h < self.now:
            out = self._go_dead(b"", delay=False)
            return out if self.closed else out + self._dead_answer(name, args, dead_ok)
        if self.dead:
            return self._dead_answer(name, args, dead_ok)
        return getattr(self, "_" + name.lower().replace(" ", "_"))(args)

    def _dead_answer(self, name: str, args: list[str], dead_ok: bool) -> list[Output]:
        if not dead_ok:
            return [(0.0, DEAD_511)]
        if name == "EXEC":
            return [(0.0, b"200 result=0\n" if args[0] in KNOWN_APPS else b"200 result=-2\n")]
        return getattr(self, "_" + name.lower().replace(" ", "_"))(args)

    def _ok(self, result: str) -> list[Output]:
        return [(0.0, f"200 result={result}\n".encode())]

    def _answer(self, args: list[str]) -> list[Output]:
        return self._ok("0")

    def _noop(self, args: list[str]) -> list[Output]:
        return self._ok("0")

    def _hangup(self, args: list[str]) -> list[Output]:
        if self.dead:
            return self._ok("1")
        return self._go_dead(b"200 result=1\n")

    def _channel_status(self, args: list[str]) -> list[Output]:
        return self._ok("6")

    def _play(self, duration: int, escape: str) -> tuple[str, int, int] | None:
        """Play for `duration` ms: ("key", key, offset) / ("hangup", 0, offset) / None if done."""
        end = self.now + duration
        key = self._next_key(end, escape)
        hup = self._hangup_within(key[0] if key else end)
        if hup is not None:
            self._lose_keys_until(hup)
            offset = hup - self.now
            self.now = hup
            return ("hangup", 0, offset)
        if key is not None:
            offset = key[0] - self.now
            self.now = key[0]
            return ("key", ord(key[1]), offset)
        self.now = end
        return None

    def _lose_keys_until(self, until: int) -> None:
        while self._keys and self._keys[0][0] < until:
            self.lost_keys.append(self._keys.pop(0)[1])

    def _stream_file(self, args: list[str]) -> list[Output]:
        name, escape = args[0], args[1]
        if name in self.caller.missing_files:
            return self._ok("-1 endpos=0")
        played = self._play(self.caller.prompt_ms.get(name, self.caller.default_prompt_ms), escape)
        if played is None:
            return self._ok(f"0 endpos={self.caller.prompt_ms.get(name, self.caller.default_prompt_ms) * 8}")
        kind, code, offset = played
        if kind == "hangup":
            return self._go_dead(f"200 result=-1 endpos={offset * 8}\n".encode())
        return self._ok(f"{code} endpos={offset * 8}")

    def _say(self, text: str, escape: str) -> list[Output]:
        played = self._play(500 * max(len(text), 1), escape)
        if played is None:
            return self._ok("0")
        if played[0] == "hangup":
            return self._go_dead(b"200 result=-1\n")
        return self._ok(str(played[1]))

    def _say_number(self, args: list[str]) -> list[Output]:
        return self._say(args[0], args[1])

    _say_digits = _say_alpha = _say_date = _say_time = _say_number

    def _get_data(self, args: list[str]) -> list[Output]:
        timeout = int(args[1]) if len(args) > 1 and int(args[1]) > 0 else 6000
        max_digits = int(args[2]) if len(args) > 2 else 1024
        accept = "0123456789*#ABCD"
        digits = ""
        prompt_end = self.now + self.caller.prompt_ms.get(args[0], self.caller.default_prompt_ms)
        deadline = prompt_end + timeout
        while True:
            key = self._next_key(deadline, accept)
            hup = self._hangup_within(key[0] if key else deadline)
            if hup is not None:
                self.now = hup
                return self._go_dead(b"200 result=-1\n")
            if key is None:
                self.now = deadline
                return self._ok(f"{digits} (timeout)")
            self.now = key[0]
            if key[1] == "#":
                return self._ok(digits)
            digits += key[1]
            if len(digits) >= max_digits:
                return self._ok(digits)
            deadline = max(self.now, prompt_end) + timeout

    def _wait_for_digit(self, args: list[str]) -> list[Output]:
        timeout = int(args[0])
        until = self.now + (timeout if timeout >= 0 else 10**9)
        key = self._next_key(until, "0123456789*#ABCD")
        hup = self._hangup_within(key[0] if key else until)
        if hup is not None:
            self.now = hup
            return self._go_dead(b"200 result=-1\n")
        if key is None:
            self.now = until
            return self._ok("0")
        self.now = key[0]
        return self._ok(str(ord(key[1])))

    def _record_file(self, args: list[str]) -> list[Output]:
        escape, timeout = args[2], int(args[3])
        played = self._play(timeout if timeout > 0 else 60_000, escape)
        if played is None:
            return self._ok(f"0 (timeout) endpos={timeout * 8}")
        kind, code, offset = played
        if kind == "hangup":
            return self._go_dead(f"200 result=-1 (hangup) endpos={offset * 8}\n".encode())
        return self._ok(f"{code} (dtmf) endpos={offset * 8}")

    def _exec(self, args: list[str]) -> list[Output]:
        app = args[0]
        if app not in KNOWN_APPS:
            return self._ok("-2")
        if app == "Playback" and len(args) > 1 and args[1] not in self.caller.missing_files:
            self._play(self.caller.prompt_ms.get(args[1], self.caller.default_prompt_ms), "")
        return self._ok("0")

    def _set_variable(self, args: list[str]) -> list[Output]:
        self.variables[args[0]] = args[1]
        return self._ok("1")

    def _get_variable(self, args: list[str]) -> list[Output]:
        value = self.variables.get(args[0])
        return self._ok("0") if value is None else self._ok(f"1 ({value})")

    def _get_full_variable(self, args: list[str]) -> list[Output]:
        text = args[0]
        for name, value in {"CHANNEL(language)": "ru", **self.variables}.items():
            text = text.replace("${" + name + "}", value)
        return self._ok(f"1 ({text})")

    def _verbose(self, args: list[str]) -> list[Output]:
        return self._ok("1")


def environment(script: str = "selftest", *, uniqueid: str = "1795788722.1", args: Iterable[str] = (),
                network: bool = True, language: str = "ru", callerid: str = "unknown") -> bytes:
    """An environment block as Asterisk 22 sends it (the 22 variables in order, then arguments)."""
    values = {
        "agi_network": "yes", "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}", "agi_channel": "Local/s@hotline-00000000;2",
        "agi_language": language, "agi_type": "Local", "agi_uniqueid": uniqueid,
        "agi_version": "22.10.1", "agi_callerid": callerid, "agi_calleridname": "unknown",
        "agi_callingpres": "67", "agi_callingani2": "0", "agi_callington": "0", "agi_callingtns": "0",
        "agi_dnid": "unknown", "agi_rdnis": "unknown", "agi_context": "hotline", "agi_extension": "s",
        "agi_priority": "2", "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": "140412684912320",
    }
    keys = list(ENV_KEYS)
    if not network:
        keys = [k for k in keys if k not in ("agi_network", "agi_network_script")]
        values["agi_request"] = "/usr/share/asterisk/agi-bin/ivr-agi"
    lines = [f"{k}: {values[k]}\n" for k in keys]
    lines += [f"agi_arg_{i}: {a}\n" for i, a in enumerate(args, 1)]
    return ("".join(lines) + "\n").encode()


def chunked(data: bytes, pieces: int) -> list[bytes]:
    """Split like Asterisk's env writes: `pieces` parts, cut mid-line as well as between lines."""
    if pieces <= 1:
        return [data]
    step = max(len(data) // pieces, 1)
    cuts = [i * step + (7 * i) % 13 for i in range(1, pieces)]
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass
class PeerResult:
    commands: list[str]
    lost_keys: list[str]
    closed_by_server: bool
    closed_by_peer: bool


async def call(port: int, model: AsteriskModel | None = None, *, script: str = "selftest",
               uniqueid: str = "1795788722.1", args: Iterable[str] = (), env_pieces: int = 3,
               host: str = "127.0.0.1", timeout_s: float = 10.0) -> PeerResult:
    """One call: connect, send the environment in pieces, answer commands until the server closes."""
    model = model or AsteriskModel()
    reader, writer = await asyncio.open_connection(host, port)
    closed_by_server = False
    rest = b""
    try:
        for piece in chunked(environment(script, uniqueid=uniqueid, args=args), env_pieces):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0)
        while not model.closed:
            try:
                line = await asyncio.wait_for(reader.readline(), timeout_s)
            except ConnectionResetError:  # the server closed while our late HANGUP line was in flight
                line = b""
            if not line:
                closed_by_server = True
                break
            for delay, data in model.respond(line.decode().rstrip("\n")):
                if delay:
                    await asyncio.sleep(delay)
                if data:
                    writer.write(data)
                else:
                    writer.write_eof()
        if model.closed:  # AGIEXITONHANGUP: Asterisk closed; the server must notice and close too
            with contextlib.suppress(ConnectionResetError):
                rest = await asyncio.wait_for(reader.read(), timeout_s)
            closed_by_server = True
            assert not rest or rest.endswith(b"\n"), rest
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return PeerResult(model.commands, model.lost_keys, closed_by_server, model.closed)


# --- classic AGI: the same Asterisk over a child process's pipes ---------------------------------

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PipeResult:
    commands: list[str]
    lost_keys: list[str]
    returncode: int
    stderr: str


async def start_agi(route_args: Iterable[str], extra_env: Mapping[str, str] | None = None,
                    ) -> asyncio.subprocess.Process:
    """`ivr-agi ROUTE ...` as Asterisk starts it: the call on stdin/stdout, logs on stderr."""
    env = {**os.environ, "AUTOINFORM_CONFIG": str(ROOT / "does-not-exist.toml"),
           "AUTOINFORM_IVR__ROUTER": "tests.ivr.classic_flows:router", **(extra_env or {})}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr.classic_agi", *route_args, cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def pipe_call(route: str, model: AsteriskModel | None = None, *, args: Iterable[str] = (),
                    uniqueid: str = "1795788722.1", timeout_s: float = 20.0) -> PipeResult:
    """One classic AGI call. Asterisk signals a hang-up to a classic AGI with SIGHUP, not a line."""
    model = model or AsteriskModel()
    proc = await start_agi([route, *args])
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr = asyncio.create_task(proc.stderr.read())
    try:
        for piece in chunked(environment("", uniqueid=uniqueid, args=[route, *args], network=False), 3):
            proc.stdin.write(piece)
            await proc.stdin.drain()
        while line := await asyncio.wait_for(proc.stdout.readline(), timeout_s):
            for delay, data in model.respond(line.decode().rstrip("\n")):
                await asyncio.sleep(delay)
                if data == b"HANGUP\n":
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGHUP)
                elif data:
                    proc.stdin.write(data)
                else:
                    proc.stdin.close()
        returncode = await asyncio.wait_for(proc.wait(), timeout_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return PipeResult(model.commands, model.lost_keys, returncode, (await stderr).decode())
