"""Build prompt audio: synthesize each text, convert it for Asterisk, validate it, record it.

Asterisk's `slin` .wav is 8 kHz mono 16-bit signed PCM; sox converts whatever the engine produced
to exactly that. gTTS (online) is used when its service answers within a short timeout, otherwise
espeak-ng (offline, `espeak-ng -v ru`); the report says which engine made each file.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import wave
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Protocol

from ivr.prompts import (
    SAMPLE_RATE,
    ManifestEntry,
    PromptError,
    load_manifest,
    path_for,
    save_manifest,
    sha256_file,
    stale,
)

logger = logging.getLogger(__name__)

EngineChoice = Literal["auto", "gtts", "espeak"]
MIN_FRAMES: Final = SAMPLE_RATE // 10  # 0.1 s: anything shorter is not speech
SUBPROCESS_TIMEOUT_S: Final = 60.0
# Trim the engines' leading and trailing silence so that word prompts join without gaps,
# then pad a little so that they do not run together either.
_SOX_EFFECTS: Final = ("silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%",
                       "reverse", "pad", "0.03", "0.08")


class AudioBuildError(PromptError):
    """A prompt's audio could not be produced; carries the prompt id (if one) and the reason."""

    def __init__(self, reason: str, prompt_id: str | None = None) -> None:
        super().__init__(f"{prompt_id}: {reason}" if prompt_id else reason)
        self.prompt_id = prompt_id
        self.reason = reason


class Synthesizer(Protocol):
    name: str
    voice: str

    def unavailable(self) -> str | None:
        """None when the engine can be used now, else why not."""

    def synthesize(self, text: str, out_dir: Path) -> Path:
        """Speak `text` into a new file under out_dir (any format sox reads) and return it."""


@dataclass
class EspeakNg:
    voice: str = "ru"
    speed_wpm: int = 140
    name: str = "espeak-ng"

    def unavailable(self) -> str | None:
        return None if shutil.which("espeak-ng") else "espeak-ng is not installed (apt install espeak-ng)"

    def synthesize(self, text: str, out_dir: Path) -> Path:
        out = out_dir / "espeak.wav"
        _run(["espeak-ng", "-v", self.voice, "-s", str(self.speed_wpm), "-w", str(out), "--", text])
        return out


@dataclass
class Gtts:
    voice: str = "ru"
    probe_host: str = "translate.google.com"
    probe_timeout_s: float = 2.0
    name: str = "gtts"

    def unavailable(self) -> str | None:
        try:
            with socket.create_connection((self.probe_host, 443), timeout=self.probe_timeout_s):
                return None
        except OSError as exc:
            return f"gTTS service {self.probe_host} unreachable ({exc})"

    def synthesize(self, text: str, out_dir: Path) -> Path:
        from gtts import gTTS, gTTSError  # imported only when the service is reachable

        out = out_dir / "gtts.mp3"
        try:
            gTTS(text, lang=self.voice).save(str(out))
        except (gTTSError, OSError) as exc:
            raise AudioBuildError(f"gTTS failed: {exc}") from exc
        return out


def _run(argv: Sequence[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=SUBPROCESS_TIMEOUT_S)
    except FileNotFoundError as exc:
        raise AudioBuildError(f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioBuildError(f"{argv[0]} timed out") from exc
    except subprocess.CalledProcessError as exc:
        err = exc.stderr.decode(errors="replace").strip()
        raise AudioBuildError(f"{argv[0]} exited with {exc.returncode}: {err}") from exc


def convert(src: Path, dst: Path) -> None:
    """Any audio sox reads -> 8 kHz mono 16-bit signed PCM WAV."""
    _run(["sox", str(src), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
          "-t", "wav", str(dst), *_SOX_EFFECTS])


@dataclass(frozen=True)
class WavInfo:
    frames: int
    sample_rate: int


def validate_wav(path: Path) -> WavInfo:
    """Check the header says RIFF/WAVE PCM, mono, 8000 Hz, 16-bit, and that there is real audio."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioBuildError(f"{path.name} is not a RIFF/WAVE file")
        with wave.open(str(path), "rb") as w:  # wave accepts PCM only
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.getnframes()
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioBuildError(f"{path.name} is not a PCM WAV file: {exc}") from exc
    if (channels, width, rate) != (1, 2, SAMPLE_RATE):
        raise AudioBuildError(f"{path.name}: {channels} channel(s), {8 * width}-bit, {rate} Hz; "
                              f"want 1 channel, 16-bit, {SAMPLE_RATE} Hz")
    if frames < MIN_FRAMES:
        raise AudioBuildError(f"{path.name}: only {frames} frames of audio")
    return WavInfo(frames=frames, sample_rate=rate)


@dataclass(frozen=True)
class BuiltPrompt:
    prompt_id: str
    engine: str
    reason: str  # missing, unrecorded, changed, corrupt, forced


@dataclass
class BuildReport:
    built: list[BuiltPrompt] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. why gTTS was not used

    @property
    def ok(self) -> bool:
        return not self.failed

    def engines(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for b in self.built:
            counts[b.engine] = counts.get(b.engine, 0) + 1
        return counts


def choose_engines(choice: EngineChoice, report: BuildReport,
                   candidates: Mapping[str, Synthesizer] | None = None) -> list[Synthesizer]:
    """The engines to try, in order; raises when the requested one cannot run here."""
    engines: dict[str, Synthesizer] = (dict(candidates) if candidates is not None
                                       else {"gtts": Gtts(), "espeak": EspeakNg()})
    if choice not in ("auto", "gtts", "espeak"):
        raise AudioBuildError(f"unknown engine {choice!r}: use auto, gtts or espeak")
    order = ["gtts", "espeak"] if choice == "auto" else [choice]
    usable: list[Synthesizer] = []
    for key in order:
        why = engines[key].unavailable()
        if why is None:
            usable.append(engines[key])
        else:
            report.notes.append(why)
    if not usable:
        raise AudioBuildError("no speech engine available: " + "; ".join(report.notes))
    return usable


def _make_one(prompt_id: str, text: str, audio_dir: Path, engines: Sequence[Synthesizer]
              ) -> tuple[Synthesizer, ManifestEntry]:
    """Synthesize with the first engine that succeeds; the file appears complete or not at all."""
    errors: list[str] = []
    target = path_for(audio_dir, prompt_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="autoinform-tts-") as tmp:
            try:
                raw = engine.synthesize(text, Path(tmp))
                out = Path(tmp) / "out.wav"
                convert(raw, out)
                info = validate_wav(out)
            except AudioBuildError as exc:
                errors.append(f"{engine.name}: {exc.reason}")
                continue
            staged = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(out, staged)
            staged.replace(target)
        entry = ManifestEntry(text=text, engine=engine.name, voice=engine.voice,
                              sha256=sha256_file(target), sample_rate=info.sample_rate, frames=info.frames)
        return engine, entry
    raise AudioBuildError("; ".join(errors), prompt_id)


def build(audio_dir: Path, catalogue: Mapping[str, str], *, engine: EngineChoice = "auto",
          force: bool = False, candidates: Mapping[str, Synthesizer] | None = None,
          workers: int = 2) -> BuildReport:
    """(Re)build the audio of every catalogue prompt that is missing, changed or corrupt (all with
    force) and update the manifest. Prompts that fail are listed in the report, never skipped silently.
    """
    audio_dir = Path(audio_dir)
    report = BuildReport()
    reasons = {pid: "forced" for pid in catalogue} if force else stale(audio_dir, catalogue)
    report.up_to_date = sorted(set(catalogue) - set(reasons))
    if not reasons:
        return report
    engines = choose_engines(engine, report, candidates)
    manifest = load_manifest(audio_dir)
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pid: pool.submit(_make_one, pid, catalogue[pid], audio_dir, engines)
                       for pid in sorted(reasons)}
            for pid, future in futures.items():
                try:
                    used, entry = future.result()
                except AudioBuildError as exc:
                    report.failed[pid] = exc.reason
                    logger.warning("prompt %s not built: %s", pid, exc.reason, extra={"prompt_id": pid})
                    continue
                manifest[pid] = entry
                report.built.append(BuiltPrompt(pid, used.name, reasons[pid]))
                logger.debug("prompt %s built with %s", pid, used.name, extra={"prompt_id": pid})
    finally:
        save_manifest(audio_dir, manifest)  # keep what was built even if a later prompt failed
    return report


def adopt(audio_dir: Path, texts: Mapping[str, str], *, source: str, voice: str = "") -> list[str]:
    """Record files already in audio/ (studio recordings, say) in the manifest as made by `source`.

    Each file must exist and pass `validate_wav`; otherwise nothing is recorded. Without this a
    replaced file would look corrupt to `build()` and be synthesized over.
    """
    audio_dir = Path(audio_dir)
    entries: dict[str, ManifestEntry] = {}
    for pid, text in texts.items():
        path = path_for(audio_dir, pid)
        if not path.is_file():
            raise AudioBuildError("no audio file to adopt", pid)
        try:
            info = validate_wav(path)
        except AudioBuildError as exc:
            raise AudioBuildError(exc.reason, pid) from exc
        entries[pid] = ManifestEntry(text=text, engine=source, voice=voice, sha256=sha256_file(path),
                                     sample_rate=info.sample_rate, frames=info.frames)
    manifest = load_manifest(audio_dir)
    manifest.update(entries)
    save_manifest(audio_dir, manifest)
    return sorted(entries)
