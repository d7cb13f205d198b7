"""The billing drop folder (issue 14 item 2; AI-4): billing writes an export (typically by SFTP),
the engine imports it once and moves it away.

Each poll looks at the files matching the pattern directly in the folder. A file is read only when
it is ready: with `ready = "stable"`, when its size and mtime have not changed across looks at
least `settle_s` apart (a half-written file keeps growing; its mtime alone proves nothing since
`sftp put -p` keeps the source's); with `ready = "marker"`, when NAME + marker_suffix exists.
Then the file is hashed: content imported before is a duplicate (moved to rejected/ with why);
new content is imported as a new contact list named after the file and its hash, its accounting
and reject report are kept (the list, its rejections, and done/NAME.report.json and
NAME.rejections.csv beside the file), and the file goes to done/; a file that cannot be read as a
list goes to rejected/ with NAME.reason.txt. Every file is a new list: a campaign keeps the list it
was formed with, so a new export never changes a running campaign's recipients.

One engine process should watch a folder (set drop_folder.path on that one only): the content
hash is unique in the database, so two watchers never import one content twice, but the loser's
move of the file would race the winner's.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from autoinform import db
from autoinform.config import DropFolderSettings
from autoinform.errors import AutoinformError
from autoinform.importing.export import export_rejections
from autoinform.importing.importer import file_sha256, import_list
from autoinform.models import ContactList, DropFile, utcnow
from autoinform.runtime import Runtime

log = logging.getLogger(__name__)

DROP_ACTOR = "drop-folder"
DONE, REJECTED = "done", "rejected"


@dataclass(frozen=True)
class Taken:
    """What one poll did with one file."""

    name: str
    state: str  # imported | duplicate | failed
    drop_id: int
    list_id: int | None
    detail: str


def list_name(file_name: str, sha256: str) -> str:
    """A list per content: the file name (as billing named it) and the start of its hash."""
    return f"{file_name[:180]} #{sha256[:12]}"


class DropWatcher:
    def __init__(self, rt: Runtime, settings: DropFolderSettings | None = None) -> None:
        self.rt = rt
        self.settings = settings or rt.settings.drop_folder
        self._looks: dict[str, tuple[int, int, datetime]] = {}  # name → (size, mtime_ns, unchanged since)

    @property
    def folder(self) -> Path:
        if self.settings.path is None:
            raise AutoinformError("no drop folder configured (drop_folder.path)")
        return self.settings.path

    def poll(self, now: datetime | None = None) -> list[Taken]:
        """Take every ready file; returns what was done with each (not-ready files are left alone)."""
        now = now or utcnow()
        folder = self.folder
        for sub in (DONE, REJECTED):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        present: set[str] = set()
        taken: list[Taken] = []
        for path in sorted(folder.iterdir()):
            if not path.is_file() or not fnmatchcase(path.name, self.settings.pattern):
                continue
            if path.name.endswith(self.settings.marker_suffix):
                continue  # a marker matching the pattern is not an export
            present.add(path.name)
            if self._ready(path, now):
                taken.append(self.take(path, now))
                self._looks.pop(path.name, None)
        for gone in set(self._looks) - present:
            del self._looks[gone]
        return taken

    def _ready(self, path: Path, now: datetime) -> bool:
        if self.settings.ready == "marker":
            return path.with_name(path.name + self.settings.marker_suffix).exists()
        st = path.stat()
        seen = self._looks.get(path.name)
        if seen is None or seen[:2] != (st.st_size, st.st_mtime_ns):
            self._looks[path.name] = (st.st_size, st.st_mtime_ns, now)
            return False  # first look, or it changed since the last: wait for it to settle
        return (now - seen[2]).total_seconds() >= self.settings.settle_s

    def take(self, path: Path, now: datetime | None = None) -> Taken:
        now = now or utcnow()
        sha = file_sha256(path)
        size = path.stat().st_size
        name = list_name(path.name, sha)
        duplicate: str | None = None
        done_list: int | None = None
        with db.transaction(self.rt.sessions) as s:
            first = s.scalar(select(DropFile).where(DropFile.unique_sha256 == sha))
            if first is not None and first.state != "importing":
                duplicate = (f"same content as {first.name} (taken {first.received_at:%Y-%m-%d %H:%M} UTC"
                             + (f", list {first.list_id}" if first.list_id else "") + "): not imported again")
                row = DropFile(name=path.name[:300], sha256=sha, size=size, state="duplicate", detail=duplicate,
                               received_at=now)
                s.add(row)
                s.flush()
                drop_id = row.id
            elif first is None:
                first = DropFile(name=path.name[:300], sha256=sha, unique_sha256=sha, size=size, state="importing",
                                 received_at=now)
                s.add(first)
                try:
                    s.flush()
                except IntegrityError:  # another watcher claimed this content a moment ago
                    raise AutoinformError(f"{path.name}: being imported by another process") from None
                drop_id = first.id
            else:
                # An earlier take of this content stopped midway (engine killed): when its list was
                # completed, only the move is left; otherwise import again (the importer replaces
                # an incomplete list of the same name).
                drop_id = first.id
                done_list = s.scalar(select(ContactList.id).where(ContactList.name == name,
                                                                  ContactList.complete.is_(True)))
        if duplicate is not None:
            return self._finish(drop_id, path, REJECTED, "duplicate", None, duplicate)
        if done_list is not None:
            return self._finish(drop_id, path, DONE, "imported", done_list, "imported before a restart")
        try:
            report = import_list(self.rt, path, name, created_by=DROP_ACTOR)
        except AutoinformError as exc:
            with db.transaction(self.rt.sessions) as s:
                row = s.get_one(DropFile, drop_id)
                row.unique_sha256 = None  # not imported: the same content may be dropped again, fixed
            return self._finish(drop_id, path, REJECTED, "failed", None, str(exc))
        detail = (f"read {report.rows_read}, imported {report.imported}, merged {report.merged}, "
                  f"rejected {report.rejected}, warnings {report.warnings}")
        moved = self._finish(drop_id, path, DONE, "imported", report.list_id, detail)
        base = self.folder / DONE / Path(self._moved_name(drop_id)).name
        base.with_name(base.name + ".report.json").write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        if report.rejected or report.warnings:
            with self.rt.sessions() as s:
                export_rejections(s, report.list_id, base.with_name(base.name + ".rejections.csv"))
        log.info("drop folder: %s imported as list %s (%s)", path.name, report.list_id, detail)
        return moved

    def _moved_name(self, drop_id: int) -> str:
        with self.rt.sessions() as s:
            return s.get_one(DropFile, drop_id).moved_to

    def _finish(self, drop_id: int, path: Path, where: str, state: str, list_id: int | None,
                detail: str) -> Taken:
        """Move the file (and its marker) away, then record where; a reason file beside a rejection."""
        target = _free_name(self.folder / where / path.name)
        os.replace(path, target)
        marker = path.with_name(path.name + self.settings.marker_suffix)
        if marker.exists():
            os.replace(marker, target.with_name(target.name + self.settings.marker_suffix))
        if where == REJECTED:
            target.with_name(target.name + ".reason.txt").write_text(detail + "\n", encoding="utf-8")
            log.warning("drop folder: %s %s: %s", path.name, state, detail)
        with db.transaction(self.rt.sessions) as s:
            row = s.get_one(DropFile, drop_id)
            row.state, row.list_id, row.detail = state, list_id, detail[:2000]
            row.moved_to = str(target)[:500]
        return Taken(path.name, state, drop_id, list_id, detail)


def _free_name(target: Path) -> Path:
    """`target`, or target.1, target.2 … when a file of that name was moved there before."""
    n, candidate = 0, target
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}.{n}")
    return candidate


def drop_files(rt: Runtime, limit: int = 100) -> list[dict[str, object]]:
    """The files taken, newest first (CLI and web)."""
    with rt.sessions() as s:
        rows = s.scalars(select(DropFile).order_by(DropFile.id.desc()).limit(limit)).all()
        return [{"id": r.id, "name": r.name, "state": r.state, "list_id": r.list_id, "sha256": r.sha256,
                 "size": r.size, "detail": r.detail, "moved_to": r.moved_to,
                 "received_at": r.received_at.isoformat()} for r in rows]
