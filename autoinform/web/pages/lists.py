"""Lists: upload a billing export (CSV or XLSX) and read its accounting and reject report; the stop
list ("paid today") upload (AI-4, issue 12 item 1). The import and the stop list are the same
functions the command line uses; a file the import cannot read is refused as a whole, with why."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import func, select

from autoinform import db
from autoinform.errors import AutoinformError
from autoinform.importing.export import rejection_rows, write_rejections
from autoinform.models import ContactList, ListRejection
from autoinform.users import audit
from autoinform.web.auth import CurrentUser, current_user, require
from autoinform.web.pages.common import FORMS, STOPS, Masker, error_status, render, runtime, sees_personal

router = APIRouter(include_in_schema=False)
Viewer = Annotated[CurrentUser, Depends(current_user)]
Former = Annotated[CurrentUser, Depends(require(*FORMS))]
Stopper = Annotated[CurrentUser, Depends(require(*STOPS))]
REJECTS_SHOWN = 200
LISTS_SHOWN = 100


def _saved(upload: UploadFile, into: Path) -> Path:
    """The upload as a file under its own base name (the import records it as the source file)."""
    name = Path(upload.filename or "upload").name or "upload"
    path = into / name
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    return path


def _lists_page(request: Request, user: CurrentUser, *, status_code: int = 200, error: str = "",
                report: dict[str, Any] | None = None) -> HTMLResponse:
    with runtime(request).sessions() as s:
        lists = s.scalars(select(ContactList).order_by(ContactList.id.desc()).limit(LISTS_SHOWN)).all()
    return render(request, "lists.html", user, status_code=status_code, lists=lists, error=error,
                  report=report)


@router.get("/lists", response_class=HTMLResponse)
def lists_page(request: Request, user: Viewer) -> HTMLResponse:
    return _lists_page(request, user)


@router.post("/lists", response_class=HTMLResponse)
def upload_list(request: Request, user: Former, name: Annotated[str, Form(max_length=200)],
                file: Annotated[UploadFile, File()]) -> HTMLResponse:
    from autoinform.importing.importer import import_list

    rt = runtime(request)
    rt.settings.var_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=rt.settings.var_dir, prefix="upload-") as tmp:
        try:
            report = import_list(rt, _saved(file, Path(tmp)), name, created_by=user.login)
        except AutoinformError as exc:
            return _lists_page(request, user, status_code=error_status(exc), error=str(exc))
    return _list_page(request, user, report.list_id, report=report.to_dict())


def _list_page(request: Request, user: CurrentUser, list_id: int,
               report: dict[str, Any] | None = None) -> HTMLResponse:
    mask = Masker(sees_personal(user))
    with runtime(request).sessions() as s:
        lst = s.get(ContactList, list_id)
        if lst is None:
            return render(request, "error.html", user, status_code=404, error=f"list {list_id} not found")
        by_kind = dict(s.execute(select(ListRejection.kind, func.count()).where(ListRejection.list_id == list_id)
                                 .group_by(ListRejection.kind)).all())
        rejects = [{"row": r.row_number, "column": r.column, "kind": r.kind, "reason": r.reason,
                    "raw": r.raw if mask.clear else ""}
                   for r in s.scalars(select(ListRejection).where(ListRejection.list_id == list_id)
                                      .order_by(ListRejection.row_number, ListRejection.id).limit(REJECTS_SHOWN))]
    return render(request, "list.html", user, lst=lst, by_kind=by_kind, rejects=rejects, report=report,
                  shown=REJECTS_SHOWN)


@router.get("/lists/{list_id}", response_class=HTMLResponse)
def list_page(request: Request, list_id: int, user: Viewer) -> HTMLResponse:
    return _list_page(request, user, list_id)


@router.get("/lists/{list_id}/rejections.csv")
def rejections_csv(request: Request, list_id: int, user: Former) -> Response:
    """The whole reject report with each row as the file had it: personal data, so an export
    for the role that uploads lists only, and written in the audit log (AI-19)."""
    rt = runtime(request)
    out = io.StringIO()
    with db.transaction(rt.sessions) as s:
        n = write_rejections(out, rejection_rows(s, list_id))
        audit(s, user.login, "list.export_rejections", "list", list_id, rows=n, via="web")
    body = "\ufeff" + out.getvalue()  # Excel reads UTF-8 by its BOM
    return StreamingResponse(iter([body.encode()]), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="list-{list_id}-rejections.csv"'})


def _stop_page(request: Request, user: CurrentUser, *, status_code: int = 200, error: str = "",
               result: dict[str, Any] | None = None) -> HTMLResponse:
    from autoinform.results import list_stops

    with runtime(request).sessions() as s:
        stops = list_stops(s, limit=100)
    return render(request, "stoplist.html", user, status_code=status_code, stops=stops, error=error,
                  result=result)


@router.get("/stoplist", response_class=HTMLResponse)
def stop_page(request: Request, user: Viewer) -> HTMLResponse:
    return _stop_page(request, user)


@router.post("/stoplist", response_class=HTMLResponse)
def upload_stops(request: Request, user: Stopper, file: Annotated[UploadFile, File()],
                 reason: Annotated[str, Form(max_length=64)] = "paid") -> HTMLResponse:
    """As `autoinform stoplist add`: accounts no customer has and lines that are no account are
    reported, not added; the others stop their pending notices with `reason`."""
    from autoinform.results import add_stops, read_stop_file, stop_reason, unknown_accounts

    rt = runtime(request)
    rt.settings.var_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=rt.settings.var_dir, prefix="upload-") as tmp:
        try:
            reason = stop_reason(reason)
            read = read_stop_file(_saved(file, Path(tmp)))
            with db.transaction(rt.sessions) as s:
                unknown = unknown_accounts(s, read.accounts)
                missing = set(unknown)
                known = [a for a in read.accounts if a not in missing]
                added = add_stops(s, known, reason=reason, source=file.filename or "upload", actor=user.login,
                                  rejected=len(read.rejected) + len(unknown))
        except (AutoinformError, ValueError) as exc:
            return _stop_page(request, user, status_code=400, error=str(exc))
    result = {"added": added, "reason": reason, "duplicates": read.duplicates, "header": read.header,
              "rejected": [{"line": b.line, "text": b.text, "reason": b.reason} for b in read.rejected],
              "unknown": unknown}
    return _stop_page(request, user, result=result)
