"""`autoinform run`: one process hosting scheduler, dispatcher, callback endpoint and FastAGI server.

Start-up checks everything it can before work begins (settings, schema, prompts, channel
connections) so that a misconfiguration is an error at start, not a silent failure at 10:00.
Stop (SIGTERM, Ctrl-C) finishes in-flight sends, records them and releases what was not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import uvicorn
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, select

from autoinform.campaigns import ACTIVE
from autoinform.channels import unavailable_channels
from autoinform.channels.base import ChannelSender
from autoinform.dispatch import Dispatcher
from autoinform.errors import ConfigError
from autoinform.models import Campaign, Channel
from autoinform.rendering import StoredScenarioRenderer
from autoinform.runtime import Runtime
from autoinform.scheduler import EngineScheduler
from autoinform.templates.jobs import TemplateJobs
from autoinform.web.app import create_app
from autoinform.web.serve import WebServer, web_server
from ivr.hotline.queue_watch import QueueStats

if TYPE_CHECKING:
    from autoinform.desk.control import DeskControl
    from ivr.hotline.backend import HotlineBackend
    from ivr.router import Flow

log = logging.getLogger(__name__)


def build_senders(rt: Runtime) -> dict[Channel, ChannelSender]:
    """The channels the settings enable: e-mail, SMS over Twilio, phone calls over AMI."""
    s = rt.settings
    senders: dict[Channel, ChannelSender] = {}
    missing = unavailable_channels(s)
    if Channel.EMAIL not in missing:
        from autoinform.channels.email import EmailChannel
        senders[Channel.EMAIL] = EmailChannel(s.smtp)
    if Channel.SMS not in missing:
        from autoinform.channels.sms import TwilioSmsChannel
        from autoinform.channels.twilio_callbacks import signed_callback_url, unreachable_callback_warning
        s.twilio.status_callback_url = signed_callback_url(s.twilio, s.web.public_url)
        if warning := unreachable_callback_warning(s.twilio, s.web.public_url):
            log.warning(warning)
        senders[Channel.SMS] = TwilioSmsChannel(s.twilio)
    if Channel.PHONE not in missing:
        from autoinform.channels.phone import PhoneChannel
        senders[Channel.PHONE] = PhoneChannel(s.phone)
    return senders


@dataclass
class EngineOptions:
    web: bool = True
    ivr: bool = True
    until_idle: bool = False  # stop once no campaign is active (demo, tests)
    housekeeping_s: float = 5.0
    resync_s: float = 30.0
    extra_routers: list[APIRouter] = field(default_factory=list)
    hotline: HotlineBackend | None = None  # given: the IVR serves /hotline with it (issue 11)


class _EmbeddedServer(WebServer):
    """uvicorn inside our loop: signals are the engine's to handle, not uvicorn's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Engine:
    def __init__(self, rt: Runtime, *, senders: Mapping[Channel, ChannelSender] | None = None,
                 options: EngineOptions | None = None) -> None:
        self.rt = rt
        self.options = options or EngineOptions()
        self.senders = dict(senders) if senders is not None else build_senders(rt)
        renderer = StoredScenarioRenderer(rt.sessions, rt.settings.tz,
                                          constants=rt.settings.scenario_constants)
        self.dispatcher = Dispatcher(rt, self.senders, renderer)
        # E-mail bounces (issue 8 item 8) and the results of answered calls (issue 10) become
        # provider reports.
        for sender in self.senders.values():
            bind = getattr(sender, "bind_status_sink", None)
            if bind is not None:
                bind(self.dispatcher.on_status)
        self.templates = TemplateJobs(rt)  # issue 14: templates and the drop folder
        self.scheduler = EngineScheduler(self.dispatcher, housekeeping_s=self.options.housekeeping_s,
                                         resync_s=self.options.resync_s, parts=[self.templates])
        self.web_port: int | None = None
        self.ivr_port: int | None = None
        self._started = asyncio.Event()
        self._hotline: Flow | None = None
        self.hotline_queue = QueueStats()  # the queue watch's own once AMI is set up
        self.web_app: FastAPI | None = None
        self.desk: DeskControl | None = None  # issue 13, with the hotline's AMI link
        if self.options.hotline is not None and self.options.ivr:
            from ivr.hotline.flow import load_hotline_flow  # the menu and information base checked now,
            settings = rt.settings                          # before the engine takes any call
            self._hotline = load_hotline_flow(self.options.hotline, settings.hotline, settings.audio_dir,
                                              queue=settings.ivr.operator_queue)

    async def started(self) -> None:
        await self._started.wait()

    async def run(self, stop: asyncio.Event) -> None:
        await self._start_senders()
        recovered = await self.dispatcher.recover()
        if recovered:
            log.warning("took back %d deliveries left claimed by a previous run", recovered)
        tasks: list[asyncio.Task[object]] = []
        web = self._web_server()
        if web is not None:
            tasks.append(asyncio.create_task(web.serve(), name="web"))
        if self.options.ivr:
            tasks.append(asyncio.create_task(self._ivr(stop), name="ivr"))
        if self._hotline is not None:
            tasks.append(asyncio.create_task(self._hotline_upkeep(stop), name="hotline"))
        await self.scheduler.start()
        dispatch = asyncio.create_task(self.dispatcher.run(stop), name="dispatcher")
        if web is not None:
            while not web.started and not web.should_exit:
                await asyncio.sleep(0.01)
            if web.servers:
                self.web_port = web.servers[0].sockets[0].getsockname()[1]
        self._started.set()
        log.info("engine running: channels %s, web %s, FastAGI %s",
                 ",".join(c.value for c in self.senders) or "none", self.web_port, self.options.ivr)
        try:
            if self.options.until_idle:
                await self._wait_idle(stop)
            else:
                await stop.wait()
        finally:
            stop.set()
            await dispatch
            self.scheduler.shutdown()
            if web is not None:
                web.should_exit = True
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            for sender in self.senders.values():
                await sender.close()
            log.info("engine stopped: %s", vars(self.dispatcher.stats))

    async def _start_senders(self) -> None:
        for channel, sender in self.senders.items():
            try:
                await sender.start()
            except Exception as exc:
                raise ConfigError(f"{channel.value} channel cannot start: {exc}") from exc

    def _web_server(self) -> uvicorn.Server | None:
        if not self.options.web:
            return None
        routers = list(self.options.extra_routers)
        stats: dict[str, object] = {"dispatcher": self.dispatcher.stats}
        if Channel.SMS in self.senders:
            from autoinform.channels.twilio_callbacks import CallbackCounters, twilio_status_router
            counters = CallbackCounters()
            stats["twilio_callbacks"] = counters
            routers.append(twilio_status_router(self.rt.settings.twilio, self.dispatcher.on_status,
                                                self.rt.settings.web.public_url, counters=counters))
        if Channel.SMS in self.senders and self.rt.settings.twilio.auth_token.get_secret_value():
            from autoinform.hotline.sms_webhook import SmsReadingCounters, sms_readings_router
            inbound = SmsReadingCounters()  # readings by SMS (issue 11 item 5, HL-7)
            stats["sms_inbound"] = inbound
            routers.append(sms_readings_router(self.rt, counters=inbound))
        if self._hotline is not None:
            stats["hotline_queue"] = self.hotline_queue
        app = create_app(self.rt, routers=routers, stats=stats)
        self.web_app = app  # desk (issue 13): its AMI control is handed to the pages once up
        return web_server(app, self.rt.settings.web.host, self.rt.settings.web.port, cls=_EmbeddedServer)

    async def _ivr(self, stop: asyncio.Event) -> None:
        from ivr.router import load_router
        from ivr.server import serve_ivr

        def started(server: object) -> None:
            self.ivr_port = getattr(server, "port", None)
        router = load_router(self.rt.settings.ivr.router)
        phone = self.senders.get(Channel.PHONE)
        if phone is not None and hasattr(phone, "notice_for") and "notify" not in router:
            from ivr.flows.notify import NoticeSource, notify_flow
            router.add("notify", notify_flow(cast(NoticeSource, phone)))  # issue 10 part 3
        if self._hotline is not None and "hotline" not in router:
            router.add("hotline", self._hotline)  # issue 11
        await serve_ivr(self.rt.settings.ivr, router, stop, on_started=started)

    async def _hotline_upkeep(self, stop: asyncio.Event) -> None:
        """The hotline's background work (issue 11): the queue's waits from AMI (HL-4, HL-5) when
        an AMI user is configured, and expired recordings removed every hour (retention)."""
        from autoinform.hotline import recordings
        from ivr.ami.client import AmiClient, Subscription
        from ivr.hotline.queue_watch import QueueWatch

        settings = self.rt.settings
        backend = self.options.hotline
        assert backend is not None
        ami: AmiClient | None = None
        desk_sub: Subscription | None = None
        if settings.ami.username:
            ami = AmiClient(settings.ami, name="hotline")
            watch = QueueWatch(backend, settings.hotline.operator_wait_limit_s,
                               queues=frozenset({settings.ivr.operator_queue}))
            self.hotline_queue = watch.stats
            watch.attach(ami)
            # --- operator desk (issue 13): screen-pop, pause, callbacks over the same AMI link ---
            from autoinform.desk.control import DeskControl
            self.desk = DeskControl(self.rt, ami, settings.ivr.operator_queue)
            desk_sub = await self.desk.start()
            if self.web_app is not None:
                self.web_app.state.desk_control = self.desk
            # --- end of the desk's part ---
            ami.start()
        try:
            while not stop.is_set():
                try:
                    purged = await asyncio.to_thread(recordings.purge, self.rt)
                    if purged.rows or purged.orphan_files:
                        log.info("recordings past retention removed: %s", vars(purged))
                except Exception:
                    log.exception("recordings housekeeping failed; trying again in an hour")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 3600)
        finally:
            if ami is not None:
                if desk_sub is not None:
                    desk_sub.close()
                await ami.close()

    async def _wait_idle(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(0.5)
            await self.dispatcher.housekeeping()
            active = await self.dispatcher.in_db(lambda s: s.scalar(
                select(func.count()).select_from(Campaign).where(Campaign.state.in_(ACTIVE))))
            if not active:
                log.info("no active campaign left: stopping (--until-idle)")
                return
