"""Approval requests by e-mail (issue 14 item 3), sent through the engine's SMTP settings after the
transaction that formed the draft committed: a notice is a row first (status pending), so a crash
or an unreachable relay loses none: the next tick sends what is still pending."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from sqlalchemy import select

from autoinform import db
from autoinform.config import Settings
from autoinform.logs import mask_email
from autoinform.models import Campaign, TemplateNotice, utcnow
from autoinform.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Sent:
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # the relay did not answer: tried again on the next tick


def message(settings: Settings, to: str, campaign_name: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((settings.smtp.sender_name, settings.smtp.sender))
    msg["To"] = to
    msg["Subject"] = f"{settings.templates.notice_subject}: {campaign_name}"
    msg["Message-ID"] = make_msgid(domain=settings.smtp.sender.rpartition("@")[2] or None)
    msg.set_content(text)
    return msg


async def send_pending(rt: Runtime) -> Sent:
    import aiosmtplib

    settings = rt.settings
    result = Sent()
    with rt.sessions() as s:
        pending = s.execute(select(TemplateNotice.id, TemplateNotice.recipient, TemplateNotice.text, Campaign.name)
                            .join(Campaign, Campaign.id == TemplateNotice.campaign_id)
                            .where(TemplateNotice.kind == "email", TemplateNotice.status == "pending")
                            .order_by(TemplateNotice.id)).all()
    smtp = settings.smtp
    for notice_id, to, text, name in pending:
        if not smtp.enabled:
            status = "not sent: smtp.enabled is false"
        else:
            try:
                await aiosmtplib.send(
                    message(settings, to, name, text), hostname=smtp.host, port=smtp.port, timeout=smtp.timeout,
                    username=smtp.username, password=smtp.password.get_secret_value() if smtp.password else None,
                    use_tls=smtp.use_tls, start_tls=smtp.start_tls if smtp.start_tls else None)
                status = "sent"
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code < 500:
                    result.waiting += 1
                    continue
                status = f"failed: {exc.code} {exc.message}"[:300]
            except (OSError, aiosmtplib.SMTPException) as exc:
                log.warning("approval notice %s to %s not sent now: %s", notice_id, mask_email(to), exc)
                result.waiting += 1
                continue
        with db.transaction(rt.sessions) as s:
            n = s.get_one(TemplateNotice, notice_id)
            n.status, n.done_at = status, utcnow()
        if status == "sent":
            result.sent += 1
        else:
            result.failed += 1
            log.warning("approval notice %s to %s: %s", notice_id, mask_email(to), status)
    return result
