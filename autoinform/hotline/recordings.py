"""Callers' recorded messages: names the engine makes, retention, and audited access (HL-5, AI-19).

A recording's name comes from the call's uniqueid (sanitised), the task kind and the instant, never
from anything the caller typed. Housekeeping removes recordings past
hotline.recording_retention_days: the file and its row, and files in the folder that no row knows
once they are that old (a call that ended before its task was written). Every listening or
download writes an audit_log entry with who, which recording and why.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform import db
from autoinform.errors import AutoinformError, NotFoundError
from autoinform.models import Recording
from autoinform.runtime import Runtime
from autoinform.users import audit

log = logging.getLogger(__name__)

EXTENSION = "wav"  # Asterisk's Record and MixMonitor choose the format by the extension
_UNSAFE = re.compile(r"[^0-9A-Za-z_-]+")
MAX_ID = 40


class RecordingError(AutoinformError):
    """A recording path outside the recordings folder, or a file that cannot be read."""


def recording_name(call_id: str, kind: str, at: datetime) -> str:
    """'20261202T075501123Z-callback-1764660901_42.wav' (UTC to the millisecond): only [0-9A-Za-z_-]
    and one dot before the extension, so the flow may take the suffix off for Asterisk's RECORD FILE."""
    safe_id = _UNSAFE.sub("_", call_id)[:MAX_ID].strip("_") or "call"
    safe_kind = _UNSAFE.sub("_", kind)[:16] or "message"
    at = at.astimezone(UTC)
    return f"{at:%Y%m%dT%H%M%S}{at.microsecond // 1000:03d}Z-{safe_kind}-{safe_id}.{EXTENSION}"


def inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


@dataclass
class PurgeReport:
    rows: int = 0  # recordings past retention removed (their files with them)
    missing_files: int = 0  # rows whose file was already gone
    orphan_files: int = 0  # old files no row knew


def purge_expired(session: Session, root: Path, now: datetime, retention_days: int) -> PurgeReport:
    report = PurgeReport()
    for rec in session.scalars(select(Recording).where(Recording.expires_at <= now)):
        path = Path(rec.path)
        if inside(root, path):
            try:
                path.unlink()
            except FileNotFoundError:
                report.missing_files += 1
        session.delete(rec)
        report.rows += 1
    if root.is_dir():
        cutoff = (now - timedelta(days=retention_days)).timestamp()
        known = set(session.scalars(select(Recording.path)))
        for path in root.rglob(f"*.{EXTENSION}"):
            if str(path) not in known and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                report.orphan_files += 1
    if report.rows or report.orphan_files:
        log.info("recordings purged: %d past retention (%d files already gone), %d orphan files",
                 report.rows, report.missing_files, report.orphan_files)
    return report


def purge(rt: Runtime, now: datetime | None = None) -> PurgeReport:
    """Housekeeping's entry point: one transaction over the configured folder and retention."""
    h = rt.settings.hotline
    with db.transaction(rt.sessions) as s:
        return purge_expired(s, h.recordings_dir.resolve(), now or datetime.now(UTC), h.recording_retention_days)


def copy_out(session: Session, recording_id: int, out: Path, actor: str, reason: str = "") -> Recording:
    """Copy a recording to `out` and record the download in the audit log (HL-5, AI-19)."""
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise NotFoundError("recording", recording_id)
    try:
        shutil.copyfile(rec.path, out)
    except OSError as exc:
        raise RecordingError(f"recording {recording_id}: {exc.strerror or exc}") from None
    audit(session, actor, "recording.download", "recording", recording_id, call_id=rec.call_id,
          task_id=rec.task_id, out=str(out), reason=reason)
    return rec


def listened(session: Session, recording_id: int, actor: str, *, via: str) -> None:
    """A listening through another door (the web player): the same audit entry."""
    audit(session, actor, "recording.listen", "recording", recording_id, via=via)


def listing(session: Session, limit: int = 200) -> list[Recording]:
    return list(session.scalars(select(Recording).order_by(Recording.created_at.desc()).limit(limit)))
