"""A local Twilio Messages API (2010-04-01 subset) on 127.0.0.1 port 0, for the demo and tests.

Implemented as Twilio documents it:
- POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From or
  MessagingServiceSid, Body, StatusCallback; HTTP Basic auth (account SID, auth token).
  201 with the Message resource JSON (sid "SM" + 32 hex, num_segments counted as GSM-7 or UCS-2).
- GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json and GET .../Accounts/{AccountSid}.json
- GET  /2010-04-01/Accounts/{AccountSid}/Messages.json: the list, newest DateSent first (messages
  not yet sent by DateCreated), filtered by To, From, DateSent (that day), DateSent> (on or after)
  and DateSent< (on or before; a bare date means through its end), each a GMT date YYYY-MM-DD or
  date-time YYYY-MM-DDTHH:MM:SSZ; a filter on DateSent leaves out messages not yet sent. Paged as
  Twilio pages: PageSize (default 50, at most 1000), Page, PageToken ("PA" + the last SID of the
  page before), and the keys messages, page, page_size, start, end, uri, first_page_uri,
  next_page_uri, previous_page_uri. `clock` dates what the server does (tests place messages in time).
- errors as JSON {"code", "message", "more_info", "status"}: 20003 (401 auth), 20404 (404),
  21211 (invalid To), 21602 (no Body), 21617 (Body over 1600), 21603 (no From), 21212 (From not
  a phone number), 21659 (From not an account number), 21606 (From not SMS-capable), 21609
  (bad StatusCallback), 20429 (429, when told to throttle).
- status callbacks POSTed to StatusCallback, each signed with X-Twilio-Signature (HMAC-SHA1 over
  the URL followed by the sorted parameters as name+value, base64) and carrying AccountSid,
  ApiVersion, From, MessageSid, MessageStatus, SmsSid, SmsStatus, To (+ ErrorCode when
  undelivered/failed, RawDlrDoneDate on a delivery report, MessagingServiceSid when used).

Destination behaviour, by To number (default: delivered):
    tw.outcomes["+79001234567"] = Final("undelivered", 30003)   # queued -> sent -> undelivered
    tw.outcomes["+79001234568"] = Final("failed", 30008)        # queued -> failed
    tw.outcomes["+79001234569"] = HOLD                          # queued -> sent, never final (poll)
    tw.create_errors["+79001234570"] = 21610                    # create refused: opted out
    tw.throttle_next = 2                                        # next two creates answer 429 20429
`await tw.drain()` waits until every callback due so far has been posted; `tw.callbacks` lists
them with the HTTP status the receiver answered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlparse

from aiohttp import ClientError, ClientSession, web

API_VERSION = "2010-04-01"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "0f9e8d7c6b5a49382716051a2b3c4d5e"
FROM_NUMBER = "+15005550006"
_E164_RE = re.compile(r"\+[1-9]\d{7,14}")
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = frozenset("^{}\\[~]|€\f")
_ERRORS = {
    20001: (400, "Invalid {name}: {value}"),
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21212: (400, "The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID."),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21606: (400, "The 'From' phone number provided ({from_}) is not a valid message-capable Twilio "
                 "phone number for this destination."),
    21609: (400, "Invalid StatusCallback url"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number: "
                 "{from_} via SMS."),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21659: (400, "Source number {from_} is not a Twilio phone number or Short Code."),
    21408: (400, "Permission to send an SMS has not been enabled for the region indicated by the "
                 "'To' number: {to}."),
}
_ERROR_MESSAGES = {30003: "Unreachable destination handset", 30005: "Unknown destination handset",
                   30006: "Landline or unreachable carrier", 30007: "Message filtered",
                   30008: "Unknown error"}


@dataclass(frozen=True)
class Final:
    status: str  # "delivered", "undelivered" or "failed"
    error_code: int | None = None


HOLD = Final("hold")  # stays "sent": no final callback, so only polling can learn more


@dataclass(frozen=True)
class Callback:
    url: str
    params: dict[str, str]
    signature: str
    response_status: int


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's webhook signature: HMAC-SHA1 of URL + name+value of each parameter, sorted by name."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def count_segments(body: str) -> int:
    """Parts Twilio bills: GSM-7 160/153 septets (extension chars take two), else UCS-2 70/67."""
    if all(c in _GSM_BASIC or c in _GSM_EXT for c in body):
        units = [2 if c in _GSM_EXT else 1 for c in body]
        single, part = 160, 153
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in body]
        single, part = 70, 67
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for n in units:
        if used + n > part:
            parts, used = parts + 1, 0
        used += n
    return parts


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def _sent_bound(value: str, *, upper: bool) -> datetime:
    """A DateSent filter value as an instant: a date-time as given, a bare date from its start
    (lower bound) or through its end (upper bound, Twilio's "on or before")."""
    try:
        if "T" not in value:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(0), tzinfo=UTC)
            return moment + timedelta(days=1) - timedelta(microseconds=1) if upper else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(value) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    numbers: frozenset[str] = frozenset({FROM_NUMBER})
    voice_only_numbers: frozenset[str] = frozenset()
    step_delay_s: float = 0.005  # between successive status changes of one message
    outcomes: dict[str, Final] = field(default_factory=dict)
    create_errors: dict[str, int] = field(default_factory=dict)
    throttle_next: int = 0
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    callbacks: list[Callback] = field(default_factory=list)
    requests: int = 0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeTwilio:
        app = web.Application()
        prefix = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(prefix + "/Messages.json", self._create)
        app.router.add_get(prefix + "/Messages.json", self._list)
        app.router.add_get(prefix + "/Messages/{sid}.json", self._fetch)
        app.router.add_get(prefix + ".json", self._account)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._session = ClientSession()
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTwilio:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def drain(self) -> None:
        """Wait until every status callback scheduled so far has been delivered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def finish(self, sid: str, final: Final) -> None:
        """Give a held message its final status silently, as if its callback had been lost."""
        self._update(self.messages[sid], final.status, final.error_code)

    # --- HTTP handlers ---------------------------------------------------------------------

    def _error(self, code: int, **fmt: str) -> web.Response:
        status, template = _ERRORS[code]
        return web.json_response({"code": code, "message": template.format(**fmt),
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                  "status": status}, status=status)

    def _authorised(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given, expected) and request.match_info["account"] == self.account_sid

    async def _account(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request):
            return self._error(20003)
        return web.json_response({
            "sid": self.account_sid, "owner_account_sid": self.account_sid, "friendly_name": "autoinform test",
            "status": "active", "type": "Full", "auth_token": self.auth_token,
            "date_created": _rfc2822(datetime(2020, 1, 1, tzinfo=UTC)),
            "date_updated": _rfc2822(datetime(2020, 1, 1, tzinfo=UTC)),
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}.json", "subresource_uris": {},
        })

    async def _fetch(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request):
            return self._error(20003)
        message = self.messages.get(request.match_info["sid"])
        if message is None:
            return self._error(20404, path=request.path)
        return web.json_response(message)

    async def _list(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request):
            return self._error(20003)
        query = request.query
        try:
            size = int(query.get("PageSize", "50"))
            page = int(query.get("Page", "0"))
        except ValueError:
            return self._error(20001, name="PageSize or Page", value=str(dict(query)))
        if not 1 <= size <= 1000 or page < 0:
            return self._error(20001, name="PageSize", value=str(size))
        try:
            selected = self._select(query)
        except ValueError as exc:
            return self._error(20001, name="DateSent", value=str(exc))
        # A token names the SID a page ends after ("PA") or before ("PB"), so pages stay put
        # while new messages come in at the top.
        start, stop, token = 0, size, query.get("PageToken", "")
        if token:
            at = next((i for i, m in enumerate(selected) if m["sid"] == token[2:]), None)
            if at is None or token[:2] not in ("PA", "PB"):
                start = stop = len(selected)
            elif token.startswith("PA"):
                start, stop = at + 1, at + 1 + size
            else:
                start, stop = max(0, at - size), at
        chunk = selected[start:stop]
        filters = {k: v for k, v in query.items() if k in ("To", "From", "DateSent", "DateSent<", "DateSent>")}
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

        def uri(page_no: int, page_token: str | None = None) -> str:
            extra = {"PageSize": str(size), "Page": str(page_no)} | ({"PageToken": page_token} if page_token else {})
            return path + "?" + urlencode(filters | extra)

        more = stop < len(selected)
        return web.json_response({
            "messages": chunk, "page": page, "page_size": size, "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0),
            "uri": uri(page, token), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1, "PA" + chunk[-1]["sid"]) if more and chunk else None,
            "previous_page_uri": uri(page - 1, "PB" + chunk[0]["sid"]) if page > 0 and chunk else None,
        })

    def _select(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """The messages a list request's filters select, newest first, as Twilio orders them."""
        lowest, highest = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        if "DateSent" in query:
            lowest, highest = _sent_bound(query["DateSent"], upper=False), _sent_bound(query["DateSent"], upper=True)
        if "DateSent>" in query:
            lowest = max(lowest, _sent_bound(query["DateSent>"], upper=False))
        if "DateSent<" in query:
            highest = min(highest, _sent_bound(query["DateSent<"], upper=True))
        dated = any(k in query for k in ("DateSent", "DateSent>", "DateSent<"))
        found: list[tuple[datetime, int, dict[str, Any]]] = []
        for order, m in enumerate(self.messages.values()):
            if any(name in query and m[key] != query[name] for name, key in (("To", "to"), ("From", "from"))):
                continue
            sent = parsedate_to_datetime(m["date_sent"]) if m["date_sent"] else None
            if dated and (sent is None or not lowest <= sent <= highest):
                continue
            found.append((sent or parsedate_to_datetime(m["date_created"]), order, m))
        found.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return [m for _, _, m in found]

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request):
            return self._error(20003)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return self._error(20429)
        form = await request.post()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        from_, service = str(form.get("From", "")), str(form.get("MessagingServiceSid", ""))
        callback = str(form.get("StatusCallback", ""))
        if not to:
            return self._error(21604)
        if not _E164_RE.fullmatch(to):
            return self._error(21211, to=to)
        if not from_ and not service:
            return self._error(21603)
        if from_ and not _E164_RE.fullmatch(from_):
            return self._error(21212, from_=from_)
        if from_ in self.voice_only_numbers:
            return self._error(21606, from_=from_)
        if from_ and from_ not in self.numbers:
            return self._error(21659, from_=from_)
        if not body:
            return self._error(21602)
        if len(body) > 1600:
            return self._error(21617)
        if callback and urlparse(callback).scheme not in ("http", "https"):
            return self._error(21609)
        if to in self.create_errors:
            return self._error(self.create_errors[to], to=to, from_=from_ or FROM_NUMBER)
        message = self._new_message(to, from_, service, body)
        self.messages[message["sid"]] = message
        self._spawn(self._lifecycle(message["sid"], callback))
        return web.json_response(message, status=201)

    def _new_message(self, to: str, from_: str, service: str, body: str) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = _rfc2822(self.clock())
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": from_ or None,
            "messaging_service_sid": service or None, "num_media": "0",
            # Twilio reports 0 until a sender is picked from a Messaging Service's pool.
            "num_segments": "0" if service and not from_ else str(count_segments(body)),
            "price": None, "price_unit": "USD", "sid": sid,
            "status": "accepted" if service and not from_ else "queued",
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
            "to": to, "uri": f"{base}.json",
        }

    # --- message lifecycle and callbacks ----------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _lifecycle(self, sid: str, callback: str) -> None:
        message = self.messages[sid]
        final = self.outcomes.get(message["to"], Final("delivered"))
        if message["from"] is None:
            message["from"] = FROM_NUMBER
            message["num_segments"] = str(count_segments(message["body"]))
        steps = ["queued", "failed"] if final.status == "failed" else ["queued", "sent", final.status]
        for status in steps:
            if status == "hold":
                return
            await asyncio.sleep(self.step_delay_s)
            self._update(message, status, final.error_code)
            if callback:
                await self._post_callback(callback, message)

    def _update(self, message: dict[str, Any], status: str, error_code: int | None) -> None:
        now = self.clock()
        message["status"] = status
        message["date_updated"] = _rfc2822(now)
        if status == "sent":
            message["date_sent"] = _rfc2822(now)
            message["price"] = f"-{0.0075 * int(message['num_segments']):.5f}"
        if status in ("undelivered", "failed") and error_code is not None:
            message["error_code"] = error_code
            message["error_message"] = _ERROR_MESSAGES.get(error_code, "Unknown error")

    async def _post_callback(self, url: str, message: dict[str, Any]) -> None:
        params = {
            "AccountSid": self.account_sid, "ApiVersion": API_VERSION, "From": message["from"],
            "MessageSid": message["sid"], "MessageStatus": message["status"], "SmsSid": message["sid"],
            "SmsStatus": message["status"], "To": message["to"],
        }
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if message["error_code"] is not None:
            params["ErrorCode"] = str(message["error_code"])
        if message["status"] in ("delivered", "undelivered"):
            params["RawDlrDoneDate"] = self.clock().astimezone(UTC).strftime("%y%m%d%H%M")
        signature = twilio_signature(self.auth_token, url, params)
        assert self._session is not None
        headers = {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1",
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        try:
            async with self._session.post(url, data=params, headers=headers) as response:
                await response.read()
                status = response.status
        except ClientError:
            status = 0  # receiver unreachable; Twilio would give up the same way
        self.callbacks.append(Callback(url, params, signature, status))
