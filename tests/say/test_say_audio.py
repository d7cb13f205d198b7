"""AI-10, HL-3: prompt catalogue, manifest, audio build with espeak-ng + sox, and the committed audio/."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from ivr import audio_build, prompts
from ivr.audio_build import AudioBuildError, BuildReport, EspeakNg, Gtts, build, validate_wav
from ivr.phrases import PHRASES
from ivr.prompts import ManifestError, PromptConflictError, PromptIdError
from ivr.say import WORD_PROMPTS

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_AUDIO = ROOT / "audio"
TOOLS_MISSING = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(bool(TOOLS_MISSING),
                                 reason=f"{' and '.join(TOOLS_MISSING)} not installed (apt install espeak-ng sox)")
SUBSET = {"num/1f": WORD_PROMPTS["num/1f"], "unit/kwh_5": WORD_PROMPTS["unit/kwh_5"],
          "selftest/hello": PHRASES["selftest/hello"]}


def _write_wav(path: Path, *, rate: int = 16000, channels: int = 2, frames: int = 4000) -> Path:
    """A test tone as an engine would hand it over: not yet in Asterisk's format."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        sample = (3000).to_bytes(2, "little", signed=True) + (-3000).to_bytes(2, "little", signed=True)
        w.writeframes(sample * (frames * channels // 2))
    return path


class ToneEngine:
    """A stand-in synthesizer: a square wave, or a failure, without any TTS service."""

    def __init__(self, name: str, *, unavailable: str | None = None, fails: bool = False) -> None:
        self.name, self.voice = name, "test"
        self._unavailable, self._fails = unavailable, fails
        self.calls: list[str] = []

    def unavailable(self) -> str | None:
        return self._unavailable

    def synthesize(self, text: str, out_dir: Path) -> Path:
        self.calls.append(text)
        if self._fails:
            raise AudioBuildError("service said no")
        return _write_wav(out_dir / "tone.wav")


# --- catalogue ---------------------------------------------------------------------------------

def test_catalogue_holds_words_phrases_and_extra_ai10() -> None:
    cat = prompts.catalogue({"scn/debt/intro": "Уважаемый клиент!"})
    assert set(WORD_PROMPTS) | set(PHRASES) | {"scn/debt/intro"} == set(cat)
    assert cat["num/2f"] == "две"
    assert cat["hotline/recording_notice"].startswith("Ваш звонок записывается")


def test_catalogue_refuses_conflicting_text_ai10() -> None:
    assert prompts.catalogue({"num/2f": "две"})["num/2f"] == "две"  # same text is fine
    with pytest.raises(PromptConflictError) as info:
        prompts.catalogue({"num/2f": "два"})
    assert info.value.prompt_id == "num/2f"


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs", "a//b", "a/./b", "", "x.wav", "v1.2", "пример", "a b"])
def test_bad_prompt_ids_are_refused_ai10(bad: str) -> None:
    with pytest.raises(PromptIdError):
        prompts.catalogue({bad: "текст"})


def test_path_and_playback_name_ai10(tmp_path: Path) -> None:
    assert prompts.path_for(tmp_path, "num/1f") == tmp_path / "num" / "1f.wav"
    assert prompts.path_for(tmp_path, "scn/debt-v2/intro") == tmp_path / "scn" / "debt-v2" / "intro.wav"
    assert prompts.playback_name("num/1f") == "autoinform/num/1f"


def test_every_phrase_id_is_stable_and_natural_text_hl3() -> None:
    for pid, text in PHRASES.items():
        assert pid.split("/")[0] in {"selftest", "hotline", "notify"}
        assert text == text.strip() and "  " not in text and not any(c.isdigit() for c in text), pid
    assert "записывается" in PHRASES["hotline/recording_notice"]


# --- wav validation -----------------------------------------------------------------------------

def test_validate_wav_refuses_wrong_formats_ai10(tmp_path: Path) -> None:
    with pytest.raises(AudioBuildError, match="want 1 channel, 16-bit, 8000 Hz"):
        validate_wav(_write_wav(tmp_path / "a.wav", rate=16000, channels=1))
    with pytest.raises(AudioBuildError, match="want 1 channel"):
        validate_wav(_write_wav(tmp_path / "b.wav", rate=8000, channels=2))
    with pytest.raises(AudioBuildError, match="frames"):
        validate_wav(_write_wav(tmp_path / "c.wav", rate=8000, channels=1, frames=10))
    (tmp_path / "d.wav").write_bytes(b"ID3 not a wav at all")
    with pytest.raises(AudioBuildError, match="RIFF"):
        validate_wav(tmp_path / "d.wav")
    assert validate_wav(_write_wav(tmp_path / "e.wav", rate=8000, channels=1)).frames == 4000


# --- build with stand-in engines (needs sox only) -----------------------------------------------

@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed (apt install sox)")
def test_auto_falls_back_when_gtts_unreachable_ai10(tmp_path: Path) -> None:
    gtts = ToneEngine("gtts", unavailable="gTTS service unreachable")
    espeak = ToneEngine("espeak-ng")
    report = build(tmp_path, SUBSET, candidates={"gtts": gtts, "espeak": espeak})
    assert report.ok and not gtts.calls
    assert {b.engine for b in report.built} == {"espeak-ng"}
    assert report.notes == ["gTTS service unreachable"]
    for pid in SUBSET:
        assert validate_wav(prompts.path_for(tmp_path, pid)).sample_rate == 8000


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed (apt install sox)")
def test_a_failing_engine_hands_over_per_prompt_and_failures_are_reported_ai10(tmp_path: Path) -> None:
    report = build(tmp_path, SUBSET, candidates={"gtts": ToneEngine("gtts", fails=True),
                                                 "espeak": ToneEngine("espeak-ng")})
    assert report.engines() == {"espeak-ng": 3}

    report = build(tmp_path / "b", SUBSET, engine="gtts",
                   candidates={"gtts": ToneEngine("gtts", fails=True), "espeak": ToneEngine("espeak-ng")})
    assert not report.ok and set(report.failed) == set(SUBSET)
    assert "service said no" in report.failed["num/1f"]
    assert prompts.load_manifest(tmp_path / "b") == {}
    assert prompts.missing(SUBSET, tmp_path / "b") == sorted(SUBSET, key=list(SUBSET).index)


def test_requested_engine_unavailable_is_an_error_ai10(tmp_path: Path) -> None:
    with pytest.raises(AudioBuildError, match="no speech engine available: nope"):
        build(tmp_path, SUBSET, engine="gtts",
              candidates={"gtts": ToneEngine("gtts", unavailable="nope"), "espeak": ToneEngine("espeak-ng")})


def test_gtts_probe_fails_fast_offline_ai10() -> None:
    assert Gtts(probe_host="gtts-probe.invalid", probe_timeout_s=0.5).unavailable() is not None


# --- real espeak-ng + sox --------------------------------------------------------------------------

@needs_tools
def test_espeak_build_manifest_missing_and_changed_ai10(tmp_path: Path) -> None:
    report = build(tmp_path, SUBSET, engine="espeak")
    assert isinstance(report, BuildReport) and report.ok
    assert sorted((b.prompt_id, b.engine, b.reason) for b in report.built) == sorted(
        (pid, "espeak-ng", "missing") for pid in SUBSET)

    manifest = prompts.load_manifest(tmp_path)
    for pid, text in SUBSET.items():
        path = prompts.path_for(tmp_path, pid)
        with path.open("rb") as f:
            head = f.read(12)
        assert head[:4] == b"RIFF" and head[8:] == b"WAVE"
        info = validate_wav(path)
        entry = manifest[pid]
        assert (entry.text, entry.engine, entry.voice, entry.sample_rate, entry.frames) == (
            text, "espeak-ng", "ru", 8000, info.frames)
        assert entry.sha256 == prompts.sha256_file(path)

    # Nothing to do the second time.
    again = build(tmp_path, SUBSET, engine="espeak")
    assert not again.built and sorted(again.up_to_date) == sorted(SUBSET)

    # A deleted file is missing; a changed text is stale; both are rebuilt.
    prompts.path_for(tmp_path, "num/1f").unlink()
    assert prompts.missing(["num/1f", "unit/kwh_5", "num/1f"], tmp_path) == ["num/1f"]
    changed = dict(SUBSET, **{"selftest/hello": "Здравствуйте! Новый текст проверки."})
    assert prompts.stale(tmp_path, changed) == {"num/1f": "missing", "selftest/hello": "changed"}
    rebuilt = build(tmp_path, changed, engine="espeak")
    assert {b.prompt_id: b.reason for b in rebuilt.built} == {"num/1f": "missing", "selftest/hello": "changed"}
    assert prompts.load_manifest(tmp_path)["selftest/hello"].text == "Здравствуйте! Новый текст проверки."
    assert not list(tmp_path.rglob("*.tmp"))

    forced = build(tmp_path, SUBSET, engine="espeak", force=True)
    assert {b.reason for b in forced.built} == {"forced"} and len(forced.built) == 3


@needs_tools
def test_espeak_engine_writes_speech_ai10(tmp_path: Path) -> None:
    raw = EspeakNg().synthesize("двадцать один киловатт-час", tmp_path)
    out = tmp_path / "out.wav"
    audio_build.convert(raw, out)
    assert validate_wav(out).frames > 8000 // 2  # more than half a second of speech


# --- check() against a copy of the committed audio ----------------------------------------------

@pytest.fixture()
def audio_copy(tmp_path: Path) -> Path:
    target = tmp_path / "audio"
    shutil.copytree(COMMITTED_AUDIO, target)
    return target


def test_committed_audio_matches_catalogue_ai10() -> None:
    """Every prompt of the catalogue is committed under audio/, with the manifest's text and checksum."""
    report = prompts.check(COMMITTED_AUDIO)
    assert report.ok, report.problems()
    assert report.checked == len(WORD_PROMPTS) + len(PHRASES)
    manifest = prompts.load_manifest(COMMITTED_AUDIO)
    for pid in prompts.catalogue():
        validate_wav(prompts.path_for(COMMITTED_AUDIO, pid))
        assert manifest[pid].sha256 == prompts.sha256_file(prompts.path_for(COMMITTED_AUDIO, pid))
    size = sum(p.stat().st_size for p in COMMITTED_AUDIO.rglob("*") if p.is_file())
    assert size < 15 * 1024 * 1024


def test_check_reports_each_kind_of_problem_ai10(audio_copy: Path) -> None:
    prompts.path_for(audio_copy, "num/5").unlink()
    with prompts.path_for(audio_copy, "num/7").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02\x03")
    manifest_file = audio_copy / "manifest.json"
    data = json.loads(manifest_file.read_text(encoding="utf-8"))
    data["prompts"]["hotline/goodbye"]["text"] = "Старый текст."
    del data["prompts"]["word/goda"]
    manifest_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    report = prompts.check(audio_copy, {"scn/intro": "Уважаемый клиент!"})
    assert not report.ok
    assert report.missing == ("num/5", "scn/intro")
    assert report.corrupt == ("num/7",)
    assert report.changed == ("hotline/goodbye",)
    assert report.unrecorded == ("word/goda",)
    assert "hotline/goodbye: text changed since the audio was built" in report.problems()


def test_broken_manifest_is_a_clear_error_ai10(audio_copy: Path) -> None:
    (audio_copy / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ManifestError, match="unreadable manifest"):
        prompts.check(audio_copy)


def test_manifest_write_is_atomic_and_sorted_ai10(tmp_path: Path) -> None:
    entry = prompts.ManifestEntry("два", "espeak-ng", "ru", "0" * 64, 8000, 100)
    prompts.save_manifest(tmp_path, {"b": entry, "a": entry})
    data = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert list(data["prompts"]) == ["a", "b"] and data["format"]["sample_rate"] == 8000
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_adopted_studio_recording_is_kept_by_build_ai10(audio_copy: Path) -> None:
    target = prompts.path_for(audio_copy, "hotline/goodbye")
    _write_wav(target, rate=8000, channels=1, frames=12000)  # "a studio recording"
    assert prompts.check(audio_copy).corrupt == ("hotline/goodbye",)

    assert audio_build.adopt(audio_copy, {"hotline/goodbye": PHRASES["hotline/goodbye"]},
                             source="studio", voice="Анна") == ["hotline/goodbye"]
    entry = prompts.load_manifest(audio_copy)["hotline/goodbye"]
    assert (entry.engine, entry.voice, entry.frames) == ("studio", "Анна", 12000)
    assert prompts.check(audio_copy).ok
    report = build(audio_copy, prompts.catalogue(), candidates={"gtts": ToneEngine("gtts"),
                                                               "espeak": ToneEngine("espeak-ng")})
    assert not report.built and prompts.sha256_file(target) == entry.sha256


def test_adopt_refuses_a_file_asterisk_cannot_play_ai10(audio_copy: Path) -> None:
    before = (audio_copy / "manifest.json").read_bytes()
    _write_wav(prompts.path_for(audio_copy, "num/5"), rate=44100, channels=2)
    with pytest.raises(AudioBuildError, match="want 1 channel") as info:
        audio_build.adopt(audio_copy, {"num/4": "четыре", "num/5": "пять"}, source="studio")
    assert info.value.prompt_id == "num/5"
    assert (audio_copy / "manifest.json").read_bytes() == before
