"""What the hotline's CLI groups share: who is acting, and instants typed on the command line.

The acting user is the owner of the caller's API token (autoinform/cli/common.acting_user, issue 12);
commands call `acting(session, role…)`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer

if TYPE_CHECKING:  # kept light: every group module is imported for `autoinform --help`
    from sqlalchemy.orm import Session

    from autoinform.models import Role

def acting(session: Session, *roles: Role) -> str:
    """The acting user's login once their role allows the action (admin always may)."""
    from autoinform.cli.common import acting_user

    return acting_user(session, *roles).login


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
