"""The prompt catalogue and the audio manifest: what must exist under audio/ before any call.

Asterisk plays a missing file as silence (EXEC Playback answers `200 result=0`), so a prompt that
is missing, or whose audio was built from an older text, is an error found here, at engine start-up
and in `autoinform scenarios check`, never during a call.

audio/manifest.json records, per prompt id, the text the file was built from, the engine and voice
that made it, the sample rate and the sha256 of the .wav.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from ivr.errors import AgiError
from ivr.phrases import PHRASES
from ivr.say import WORD_PROMPTS

MANIFEST_NAME: Final = "manifest.json"
SAMPLE_RATE: Final = 8000
# '/'-separated segments that cannot escape audio/; no '.', which Asterisk takes for an extension.
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:/[A-Za-z0-9][A-Za-z0-9_-]*)*")
_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})


class PromptError(AgiError):
    """Base of the prompt catalogue's errors."""


class PromptIdError(PromptError):
    def __init__(self, prompt_id: str, reason: str) -> None:
        super().__init__(f"bad prompt id {prompt_id!r}: {reason}")
        self.prompt_id = prompt_id
        self.reason = reason


class PromptConflictError(PromptError):
    """Two sources define the same prompt id with different texts."""

    def __init__(self, prompt_id: str, existing: str, new: str) -> None:
        super().__init__(f"prompt {prompt_id!r} is defined twice: {existing!r} and {new!r}")
        self.prompt_id = prompt_id
        self.existing = existing
        self.new = new


class ManifestError(PromptError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def validate_id(prompt_id: str) -> str:
    if not isinstance(prompt_id, str) or not _ID_RE.fullmatch(prompt_id):
        raise PromptIdError(str(prompt_id), "use Latin letters, digits, '_' and '-' in '/'-separated parts")
    return prompt_id


def catalogue(extra: Mapping[str, str] = _EMPTY) -> dict[str, str]:
    """Every prompt the engine can play: word prompts, fixed phrases and `extra` (scenario prompts).

    An extra prompt may repeat a built-in id only with the same text.
    """
    result = dict(WORD_PROMPTS)
    for source in (PHRASES, extra):
        for prompt_id, text in source.items():
            validate_id(prompt_id)
            if not isinstance(text, str) or not text.strip():
                raise PromptIdError(prompt_id, "empty text")
            if result.setdefault(prompt_id, text) != text:
                raise PromptConflictError(prompt_id, result[prompt_id], text)
    return result


def path_for(audio_dir: Path, prompt_id: str) -> Path:
    """audio/<id>.wav; ids with '/' live in sub-folders."""
    *folders, name = validate_id(prompt_id).split("/")
    return Path(audio_dir, *folders, f"{name}.wav")


def playback_name(prompt_id: str, base: str = "autoinform") -> str:
    """The name Asterisk plays, relative to its language sounds folder (sounds/ru/autoinform/…)."""
    validate_id(prompt_id)
    return f"{base}/{prompt_id}" if base else prompt_id


@dataclass(frozen=True)
class ManifestEntry:
    text: str
    engine: str
    voice: str
    sha256: str
    sample_rate: int
    frames: int


def manifest_path(audio_dir: Path) -> Path:
    return Path(audio_dir) / MANIFEST_NAME


def load_manifest(audio_dir: Path) -> dict[str, ManifestEntry]:
    path = manifest_path(audio_dir)
    if not path.exists():
        return {}
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return {pid: ManifestEntry(**entry) for pid, entry in data["prompts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(path, f"unreadable manifest ({exc})") from exc


def save_manifest(audio_dir: Path, entries: Mapping[str, ManifestEntry]) -> None:
    """Write the manifest atomically: readers see the old or the new file, never half of one."""
    path = manifest_path(audio_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": {"container": "wav", "encoding": "pcm_s16le", "channels": 1, "sample_rate": SAMPLE_RATE},
        "prompts": {pid: asdict(entries[pid]) for pid in sorted(entries)},
    }
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def missing(prompt_ids: Iterable[str], audio_dir: Path) -> list[str]:
    """The ids, in the order given and without repeats, that have no audio file."""
    return [pid for pid in dict.fromkeys(prompt_ids) if not path_for(audio_dir, pid).is_file()]


@dataclass(frozen=True)
class CheckReport:
    """What stands between the catalogue and audio/: each id with the reason it needs a rebuild."""

    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # the text differs from the one the file was built from
    unrecorded: tuple[str, ...] = ()  # a file exists but the manifest does not know it
    corrupt: tuple[str, ...] = ()  # the file's checksum differs from the manifest's
    checked: int = 0
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.unrecorded or self.corrupt)

    def problems(self) -> list[str]:
        return [f"{pid}: {reason}" for pid, reason in sorted(self.reasons.items())]


def stale(audio_dir: Path, wanted: Mapping[str, str]) -> dict[str, str]:
    """Prompt id -> why its audio must be (re)built, for every id of `wanted` (id -> text)."""
    manifest = load_manifest(audio_dir)
    reasons: dict[str, str] = {}
    for pid, text in wanted.items():
        path = path_for(audio_dir, pid)
        entry = manifest.get(pid)
        if not path.is_file():
            reasons[pid] = "missing"
        elif entry is None:
            reasons[pid] = "unrecorded"
        elif entry.text != text:
            reasons[pid] = "changed"
        elif sha256_file(path) != entry.sha256:
            reasons[pid] = "corrupt"
    return reasons


def check(audio_dir: Path, extra: Mapping[str, str] = _EMPTY) -> CheckReport:
    """Compare the whole catalogue (with `extra` scenario prompts) against audio/ and its manifest."""
    wanted = catalogue(extra)
    reasons = stale(audio_dir, wanted)

    def having(kind: str) -> tuple[str, ...]:
        return tuple(sorted(pid for pid, r in reasons.items() if r == kind))

    explained = {
        pid: {"missing": "no audio file",
              "unrecorded": "audio file not in the manifest (text unknown)",
              "changed": "text changed since the audio was built",
              "corrupt": "checksum differs from the manifest"}[r]
        for pid, r in reasons.items()
    }
    return CheckReport(missing=having("missing"), changed=having("changed"),
                       unrecorded=having("unrecorded"), corrupt=having("corrupt"),
                       checked=len(wanted), reasons=explained)
