"""What the hotline's CLI groups share: who is acting, and instants typed on the command line.

The acting user is named in one place (`Actor`, `acting`): when the CLI gets real authentication
(issue 12), this module is the one to change; the commands keep calling `acting(session, login, role…)`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:  # kept light: every group module is imported for `autoinform --help`
    from sqlalchemy.orm import Session

    from autoinform.models import Role

Actor = Annotated[str, typer.Option("--as", help="Login of the user acting (roles decide what is allowed; "
                                                 "every action goes to the audit log).")]


def acting(session: Session, login: str, *roles: Role) -> str:
    """The acting user's login once their role allows the action (admin always may)."""
    from autoinform.users import require_role

    return require_role(session, login, *roles).login


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """'2026-12-01' (local midnight), '01.12.2026', '2026-12-01T08:30' (local) or with an offset."""
    s = text.strip()
    try:
        parsed = datetime.fromisoformat(s)
    except ValueError:
        try:
            parsed = datetime.combine(datetime.strptime(s, "%d.%m.%Y").date(), time(0))
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a date (2026-12-01 or 01.12.2026) or an ISO "
                                     f"date-time") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def parse_day(text: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%d.%m.%Y").date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (2026-12-01 or 01.12.2026)") from None
