"""The billing drop folder (issue 14 item 2): settle, import once by content, done/ and rejected/."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from autoinform import db
from autoinform.config import DropFolderSettings
from autoinform.importing.importer import file_sha256
from autoinform.models import ContactList, DropFile
from autoinform.runtime import Runtime
from autoinform.templates.drop import DropWatcher, drop_files, list_name
from tests.templates.files import BAD_ROW, HEADER, rows, write

T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def _watcher(rt: Runtime, folder: Path, **kw: object) -> DropWatcher:
    options: dict[str, object] = {"path": folder, "pattern": "debt_*.csv", "settle_s": 30, **kw}
    return DropWatcher(rt, DropFolderSettings.model_validate(options))


def test_half_written_file_waits_until_it_settles(sqlite_rt: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    w = _watcher(sqlite_rt, folder)
    f = write(folder / "debt_03.csv", HEADER + rows(range(1, 4)))  # billing still writing
    assert w.poll(T0) == []  # first look
    with f.open("ab") as out:
        out.write(rows(range(4, 6)).encode())
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000_000))
    assert w.poll(T0 + timedelta(seconds=40)) == []  # it changed since: looks again later
    assert w.poll(T0 + timedelta(seconds=60)) == []  # unchanged, but only 20 s so far
    [taken] = w.poll(T0 + timedelta(seconds=71))
    assert taken.state == "imported"
    with sqlite_rt.sessions() as s:
        lst = s.get_one(ContactList, taken.list_id)
        assert (lst.rows_read, lst.rows_imported, lst.complete) == (5, 5, True)  # all of it, not the half
    assert not f.exists() and (folder / "done" / "debt_03.csv").exists()
    assert (folder / "done" / "debt_03.csv.report.json").exists()


def test_a_restarted_watcher_waits_a_settle_period_again(sqlite_rt: Runtime, tmp_path: Path) -> None:
    """`sftp put -p` keeps the source's old mtime: an old mtime alone never makes a file ready."""
    folder = tmp_path / "drop"
    folder.mkdir()
    f = write(folder / "debt_03.csv", HEADER + rows(range(1, 3)))
    os.utime(f, (0, 0))
    assert _watcher(sqlite_rt, folder).poll(T0) == []
    fresh = _watcher(sqlite_rt, folder)  # the engine restarted
    assert fresh.poll(T0 + timedelta(seconds=100)) == []
    assert [t.state for t in fresh.poll(T0 + timedelta(seconds=130))] == ["imported"]


def test_marker_mode_reads_only_files_with_their_marker(sqlite_rt: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    w = _watcher(sqlite_rt, folder, ready="marker")
    write(folder / "debt_03.csv", HEADER + rows(range(1, 3)))
    assert w.poll(T0) == [] and w.poll(T0 + timedelta(hours=1)) == []
    (folder / "debt_03.csv.done").touch()
    [taken] = w.poll(T0 + timedelta(hours=1, seconds=1))
    assert taken.state == "imported"
    assert (folder / "done" / "debt_03.csv.done").exists() and not (folder / "debt_03.csv.done").exists()


def test_same_content_is_imported_once_and_bad_rows_are_reported(sqlite_rt: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    w = _watcher(sqlite_rt, folder, settle_s=0)
    text = HEADER + rows(range(1, 4)) + BAD_ROW
    write(folder / "debt_a.csv", text)
    w.poll(T0)
    [first] = w.poll(T0 + timedelta(seconds=1))
    assert first.state == "imported" and "rejected 1" in first.detail
    rejections = (folder / "done" / "debt_a.csv.rejections.csv").read_text(encoding="utf-8-sig")
    assert "Без счёта" in rejections or "nobody" in rejections
    write(folder / "debt_b.csv", text)  # the same export again under another name
    write(folder / "notes.txt", "not an export")  # not matching: left alone
    w.poll(T0 + timedelta(seconds=2))
    [dup] = w.poll(T0 + timedelta(seconds=3))
    assert dup.state == "duplicate" and dup.list_id is None and "debt_a.csv" in dup.detail
    assert (folder / "rejected" / "debt_b.csv").exists()
    assert "not imported again" in (folder / "rejected" / "debt_b.csv.reason.txt").read_text(encoding="utf-8")
    assert (folder / "notes.txt").exists()
    with sqlite_rt.sessions() as s:
        assert len(s.scalars(select(ContactList)).all()) == 1
        assert [d.state for d in s.scalars(select(DropFile).order_by(DropFile.id))] == ["imported", "duplicate"]
    listed = drop_files(sqlite_rt)  # `templates drops`, newest first
    assert [(d["name"], d["state"]) for d in listed] == [("debt_b.csv", "duplicate"), ("debt_a.csv", "imported")]
    assert str(listed[0]["moved_to"]).endswith("rejected/debt_b.csv")
    write(folder / "debt_a.csv", text)  # dropped again under the very same name: rejected/debt_a.csv.1
    w.poll(T0 + timedelta(seconds=4))
    w.poll(T0 + timedelta(seconds=5))
    assert (folder / "rejected" / "debt_b.csv").exists() and not (folder / "debt_a.csv").exists()
    assert (folder / "rejected" / "debt_a.csv").exists()


def test_unreadable_file_is_rejected_with_why(sqlite_rt: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    w = _watcher(sqlite_rt, folder, settle_s=0)
    write(folder / "debt_x.csv", "Фамилия;Адрес\r\nИванов;Астрахань\r\n")  # no account column
    w.poll(T0)
    [bad] = w.poll(T0 + timedelta(seconds=1))
    assert bad.state == "failed"
    reason = (folder / "rejected" / "debt_x.csv.reason.txt").read_text(encoding="utf-8")
    assert reason.strip() == bad.detail and bad.detail
    with sqlite_rt.sessions() as s:
        row = s.get_one(DropFile, bad.drop_id)
        assert row.unique_sha256 is None  # a corrected file of the same content may come again


def test_import_killed_midway_is_taken_again(sqlite_rt: Runtime, tmp_path: Path) -> None:
    """The engine died after claiming the content: the next look imports it (once)."""
    folder = tmp_path / "drop"
    folder.mkdir()
    f = write(folder / "debt_03.csv", HEADER + rows(range(1, 4)))
    sha = file_sha256(f)
    with db.transaction(sqlite_rt.sessions) as s:
        s.add(DropFile(name=f.name, sha256=sha, unique_sha256=sha, size=f.stat().st_size, state="importing"))
    w = _watcher(sqlite_rt, folder, settle_s=0)
    w.poll(T0)
    [taken] = w.poll(T0 + timedelta(seconds=1))
    assert taken.state == "imported"
    with sqlite_rt.sessions() as s:
        assert s.scalar(select(ContactList.name).where(ContactList.id == taken.list_id)) == list_name(f.name, sha)
        assert len(s.scalars(select(DropFile)).all()) == 1
    # Killed after the list was complete but before the move: only the move is left.
    shutil.copy(folder / "done" / "debt_03.csv", folder / "debt_03.csv")
    with db.transaction(sqlite_rt.sessions) as s:
        s.get_one(DropFile, taken.drop_id).state = "importing"
    w.poll(T0 + timedelta(seconds=2))
    [again] = w.poll(T0 + timedelta(seconds=3))
    assert (again.state, again.list_id) == ("imported", taken.list_id)
    with sqlite_rt.sessions() as s:
        assert len(s.scalars(select(ContactList)).all()) == 1
