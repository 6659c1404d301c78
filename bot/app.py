"""The composition root: builds the PTB Application, registers handlers, starts and stops
what runs beside them."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

import handlers
from bot.alerts import service as alerts
from bot.alerts.tally import TallyView
from bot.board import tokens
from bot.board.geo import geo_json
from bot.board.server import BoardServer, WebhookRoute
from bot.board.strings import page_strings
from bot.cluster import leases, members, status
from bot.cluster.leases import Leases
from bot.cluster.members import Presence
from bot.core import directory, inuse, memory
from bot.core.backup import Schedule
from bot.core.config import Mode, Settings
from bot.core.db import Row, UnitOfWork, database_for
from bot.core.effects import LiveKind
from bot.core.i18n import translator
from bot.core.models import LANGUAGES
from bot.delivery.errors import seconds
from bot.delivery.files import TelegramFiles
from bot.delivery.inbox import ConfirmWhenHandled, Inbox, PassApplication
from bot.delivery.leader import PollingLeader
from bot.delivery.live import LiveMessages
from bot.delivery.ordering import PerChatOrder
from bot.delivery.outbox import OutboxSender
from bot.delivery.pace import SharedRateLimiter
from bot.evidence.keeper import Keeper
from bot.incidents import service as incidents
from bot.lifecycle import chats
from bot.reports import evaluations
from bot.resources.request_card import OfferMessageView, RequestCardView
from bot.resources.requests import on_offer_delivered as offer_delivered
from bot.runtime import Runtime
from bot.situation.card import CardView
from handlers import requests as resource_requests
from handlers import roster
from handlers.alerts import remind
from handlers.board import BOARD_LINKS, links_for
from handlers.context import RUNTIME_KEY, PContext

log = logging.getLogger(__name__)

PassApp = Application[Any, PContext, Any, Any, Any, Any]

# The updates Telegram sends the bot (the end-to-end harness asks for the same).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
# app.bot_data's key of the one web server (the board; the webhook in webhook mode), if any
WEB_KEY = "web_server"


def build_application(settings: Settings) -> PassApp:
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        tzinfo=ZoneInfo(settings.i18n.timezone),
        link_preview_options=None,
    )
    # Telegram hears that an update arrived only once it is handled (bot.inbox)
    inbox = Inbox(confirm_each=settings.telegram.mode is Mode.WEBHOOK)
    builder = (
        ApplicationBuilder()
        .application_class(PassApplication)
        .token(settings.token)
        .base_url(settings.telegram.base_url)
        # httpcore looks at every pooled connection on every request: a pool sized to what is
        # sent at once (Telegram takes about 30 messages/s) costs less than its default of 256
        .connection_pool_size(settings.telegram.connections)
        .defaults(defaults)
        .context_types(ContextTypes(context=PContext))
        # AIORateLimiter keeps us inside Telegram's limits and retries a 429 after retry_after
        .rate_limiter(_rate_limiter(settings))
        .update_queue(inbox)
        .get_updates_request(
            ConfirmWhenHandled(
                inbox, connection_pool_size=1, read_timeout=settings.telegram.poll_timeout + 10
            )
        )
        .post_init(_start)
        .post_stop(_stop_work)
        .post_shutdown(_stop)
    )
    if settings.telegram.base_file_url:
        # always set (derived from base_url when not given): PTB would keep Telegram's own
        builder = builder.base_file_url(settings.telegram.base_file_url)
    if settings.telegram.concurrent_updates > 1:
        # different chats at the same time, each chat's updates in order
        builder = builder.concurrent_updates(PerChatOrder(settings.telegram.concurrent_updates))
    app: PassApp = builder.build()
    db = database_for(settings.storage)
    # the leases are this process's (its name and a token): two processes of one name by
    # mistake never both hold one
    runtime = Runtime(
        settings=settings, db=db, leases=Leases(db, leases.holder_for(settings.instance.name))
    )
    app.bot_data[RUNTIME_KEY] = runtime
    web = _web_server(app, runtime)
    if web is not None:
        app.bot_data[WEB_KEY] = web
        if settings.board.enabled:
            # the board's open pages hear of each committed change
            runtime.on_incidents = web.hub.changed
    handlers.register(app, settings)
    return app


def _web_server(app: PassApp, runtime: Runtime) -> BoardServer | None:
    """The one web server: the situation board, and Telegram's webhook in webhook mode
    (python-telegram-bot's custom-webhook pattern: its own web server is not used)."""
    settings = runtime.settings
    webhook = None
    if settings.telegram.mode is Mode.WEBHOOK:

        async def receive(data: object) -> None:
            # queued like PTB's own webhook does; the inbox answers once it is handled
            await app.update_queue.put(Update.de_json(data, app.bot))  # type: ignore[arg-type]

        webhook = WebhookRoute(
            path=settings.webhook.url_path,
            secret=settings.webhook.secret_token,
            receive=receive,
        )
    elif not settings.board.enabled and not settings.have.tokens:
        return None
    return BoardServer(
        settings,
        runtime.db,
        tokens=tokens.state_in,
        strings=page_strings,  # the page's words (bot/board/strings.py)
        geo=geo_json,  # the map's border and towns (bot/board/geo.py)
        webhook=webhook,
        health=functools.partial(health, app),
    )


async def health(app: PassApp) -> dict[str, Any]:
    """/health: this instance and what it leads, every instance's heartbeat and leases."""
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    found = await status.status(runtime.db, runtime.instance)
    limiter = app.bot.rate_limiter
    mine = next((i for i in found["instances"] if i["name"] == runtime.instance), None)
    found["this"] = {
        "name": runtime.instance,
        "mode": runtime.settings.telegram.mode.value,
        "polls": runtime.leader is not None and runtime.leader.is_leading,
        "leases": mine["leases"] if mine else [],
        # this process, as its leases name it
        "holder": runtime.leases.holder if runtime.leases is not None else None,
        # seconds between two messages of this instance (Telegram's pace shared)
        "send_interval": limiter.interval if isinstance(limiter, SharedRateLimiter) else None,
        # … and to one group, once its burst is spent (each group's budget shared too)
        "group_send_interval": (
            limiter.group_interval if isinstance(limiter, SharedRateLimiter) else None
        ),
    }
    return found


def _rate_limiter(settings: Settings) -> AIORateLimiter:
    if settings.telegram.rate_limit:
        # Overall: one message every 1/29.5 s, never a burst (a burst of 30 then more: a
        # sliding one-second window sees 31 and Telegram answers 429), shared between the
        # instances alive (bot.delivery.pace)
        return SharedRateLimiter(max_retries=3)
    # no pacing (a Bot API server without flood limits); a 429 is still retried
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)


async def _start(app: PassApp) -> None:
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    settings = runtime.settings
    # said in the database file's lock before it is opened: no restore swaps it meanwhile
    if settings.storage.url is None:
        runtime.in_use = await inuse.share(Path(settings.storage.path), "the bot")
    await runtime.db.open()
    await directory.seed(runtime.db, settings)
    # this instance's heartbeat; the instances alive share Telegram's overall pace
    limiter = app.bot.rate_limiter
    runtime.presence = Presence(
        runtime.db,
        runtime.instance,
        settings.telegram.mode.value,
        on_alive=limiter.share if isinstance(limiter, SharedRateLimiter) else None,
    )
    await runtime.presence.start()

    async def migrated(old_id: int, new_id: int) -> None:
        async with runtime.unit() as unit:
            await chats.follow(unit, old_id, new_id)

    async def unreachable(chat_id: int, error: str) -> None:
        async with runtime.unit() as unit:
            await chats.unreachable(unit, chat_id, error)

    # the card's Board button (known once getMe told the bot's username)
    app.bot_data[BOARD_LINKS] = links_for(settings, app.bot.username)
    card_view = CardView(
        timeline_entries=settings.cards.timeline_entries, board=app.bot_data[BOARD_LINKS]
    )
    # messages kept current in place: incident cards, request cards, alert tallies
    runtime.live_messages = LiveMessages(
        runtime.db,
        app.bot,
        {
            LiveKind.CARD: card_view,
            LiveKind.REQUEST: RequestCardView(),
            LiveKind.OFFER: OfferMessageView(),
            LiveKind.TALLY: TallyView(
                default_language=settings.i18n.default_language, timezone=settings.i18n.timezone
            ),
        },
        min_interval=settings.cards.min_edit_interval,
        on_unreachable=unreachable,
        on_migrated=migrated,
        leases=runtime.leases,
    )
    runtime.sender = OutboxSender(
        runtime.db,
        app.bot,
        on_unreachable=unreachable,
        on_migrated=migrated,
        apply=runtime.apply,
        instance=runtime.instance,
    )
    # what a delivered message is: about an incident (a reply to it reaches the incident),
    # an alert reaching its chat, an evaluation question asked
    runtime.sender.on_delivered(None, _link_to_incident)
    runtime.sender.on_delivered("alert", alerts.on_delivered)
    runtime.sender.on_delivered("evaluation", evaluations.on_delivered)
    runtime.sender.on_delivered("offer", offer_delivered)
    # the files sent to the timelines, downloaded and kept as evidence in the background
    runtime.keeper = Keeper(runtime.db, TelegramFiles(app.bot).fetch, settings, apply=runtime.apply)
    runtime.schedule = resource_requests.offer_timeouts(app)
    assert app.job_queue is not None
    # Every instance runs the same jobs; each run is claimed (a lease, or a claim in the run's
    # own unit of work), so it is done once whichever instance is up, and by another when the
    # one that claimed it died.
    # reminders live in the database; a repeating job finds those that are due
    app.job_queue.run_repeating(
        shared_run("alert-reminders", REMINDERS_EVERY, remind),
        interval=REMINDERS_EVERY,
        first=5,
        name="alert-reminders",
    )
    # offer time-outs: a job at each (handlers/requests.py), and a sweep for those whose
    # instance died before its job ran
    app.job_queue.run_repeating(
        resource_requests.overdue_sweep, interval=SWEEP_EVERY, first=SWEEP_EVERY, name="offers"
    )
    # the database's upkeep, apart from the updates: the write-ahead log copied back often,
    # old claims dropped and the planner's statistics refreshed hourly
    app.job_queue.run_repeating(_checkpoint, interval=CHECKPOINT_EVERY, first=CHECKPOINT_EVERY)
    app.job_queue.run_repeating(
        shared_run("upkeep", UPKEEP_EVERY, _upkeep), interval=UPKEEP_EVERY, first=60, name="upkeep"
    )
    # offer time-outs (also those overdue after a restart) and the daily roll-call
    await resource_requests.on_start(app)
    roster.schedule_rollcall(app)
    await register_menus(app)
    # what a stop or a crash left behind: live messages not current, messages not sent
    await runtime.live.catch_up()
    await runtime.sender.start()
    await runtime.keeper.start()
    if settings.telegram.mode is Mode.POLLING:
        # one instance polls: the one holding the lease (bot.delivery.leader)
        assert runtime.leases is not None
        # (it starts once the application runs: start_leading)
        presence = runtime.presence
        runtime.leader = PollingLeader(
            runtime.leases,
            functools.partial(_start_polling, app),
            functools.partial(_stop_polling, app),
            # another process of this name, started first, polls (members.Presence.yields)
            may_lead=lambda: not presence.yields,
        )
    interval = settings.storage.backup_interval
    # on PostgreSQL the server's own tools take the backups (README, "Backups")
    if interval is not None and settings.storage.url is None:
        # copies of the database taken in a thread, beside the updates (bot.core.backup)
        runtime.backups = Schedule(
            Path(settings.storage.path),
            settings.storage.backup_folder,
            interval,
            settings.storage.backup_keep,
        )
        runtime.backups.start()
    web: BoardServer | None = app.bot_data.get(WEB_KEY)
    if web is not None:
        host, port = settings.web_address
        try:
            await web.start(host, port)
        except OSError as exc:
            if settings.telegram.mode is Mode.WEBHOOK:
                raise
            # the bot works on without its board (a port taken): said loudly, once
            log.error("event=board_not_started address=%s:%s error=%s", host, port, exc)
        else:
            if settings.board.enabled:
                log.info("event=board_started url=%s/board/", _board_url(settings, web))
                # a free port ([board] port = 0) is known only now: the links follow it
                app.bot_data[BOARD_LINKS] = links_for(
                    settings, app.bot.username, _board_url(settings, web)
                )
                card_view.board = app.bot_data[BOARD_LINKS]
    # what the bot holds from now on for good is never scanned by the collector again
    memory.settle()
    log.info("event=started bot=%s", app.bot.username)


def _board_url(settings: Settings, web: BoardServer) -> str:
    if settings.board.public_url or web.port is None:
        return settings.board_url
    host, _ = settings.web_address
    return f"http://{host}:{web.port}"


# Telegram keeps an update it could not deliver for 24 hours: claims are kept three times
# as long, so that no update can come back after its claim is gone.
CLAIMS_KEPT = timedelta(hours=72)
CHECKPOINT_EVERY = 10.0  # seconds
UPKEEP_EVERY = 3600.0
LEASES_KEPT = timedelta(days=3)  # after they ran out (a daily job's claim of its day)


REMINDERS_EVERY = 30.0
SWEEP_EVERY = 5.0


def shared_run(
    name: str, every: float, job: Callable[[PContext], Awaitable[None]]
) -> Callable[[PContext], Coroutine[Any, Any, None]]:
    """A repeating job that every instance schedules and one runs per period: the instance
    that takes its lease (`job:<name>`, most of the period) runs it, the others skip. If that
    instance dies, its run's unit of work is undone and the lease runs out before the next
    period: another instance runs it then."""

    async def run(context: PContext) -> None:
        runtime = context.runtime
        assert runtime.leases is not None
        if await runtime.leases.acquire(f"job:{name}", every * 0.8):
            await job(context)

    return run


async def _start_polling(app: PassApp) -> None:
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    assert app.updater is not None
    await app.updater.start_polling(
        timeout=runtime.settings.telegram.poll_timeout,
        allowed_updates=list(ALLOWED_UPDATES),
        # Telegram unreachable: the leader tries again while it holds the lease
        bootstrap_retries=0,
    )


async def _stop_polling(app: PassApp) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()


def start_leading(app: PassApp) -> None:
    """Polling mode, once the application runs: poll whenever this instance holds the lease."""
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    if runtime.leader is not None:
        runtime.leader.start()


async def stop_leading(app: PassApp) -> None:
    """Stop polling (if this instance polls) and let another instance take over at once."""
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    if runtime.leader is not None:
        await runtime.leader.stop()


async def _checkpoint(context: PContext) -> None:
    await context.runtime.db.checkpoint()


async def _upkeep(context: PContext) -> None:
    db = context.runtime.db
    dropped = await db.forget_claims(CLAIMS_KEPT)
    # personal links to the board expired or revoked long ago
    async with context.runtime.unit() as unit:
        await tokens.forget_expired(unit)
    # leases long run out (live messages, jobs' past runs) and instances long gone
    await leases.forget_expired(db, LEASES_KEPT)
    await members.forget_gone(db)
    await db.optimize()
    log.info("event=upkeep claims_dropped=%d", dropped)


async def _link_to_incident(unit: UnitOfWork, row: Row, message_id: int) -> None:
    if row["incident_id"] is not None:
        await incidents.link_message(
            unit, row["chat_id"], message_id, row["incident_id"], row["purpose"], row["subject_id"]
        )


async def _stop_work(app: PassApp) -> None:
    """Before the bot's connection closes: stop sending and editing."""
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    await stop_leading(app)
    web: BoardServer | None = app.bot_data.get(WEB_KEY)
    if web is not None:
        await web.stop()
    if runtime.sender is not None:
        await runtime.sender.stop()
    if runtime.keeper is not None:
        await runtime.keeper.stop()
    if runtime.live_messages is not None:
        await runtime.live_messages.close()
    if runtime.presence is not None:
        await runtime.presence.stop()
    if runtime.backups is not None:
        await runtime.backups.stop()


async def _stop(app: PassApp) -> None:
    # a stop signal between post_init and a running application skips post_stop: the
    # sender and the live messages started by post_init are stopped here then
    await _stop_work(app)
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    await runtime.db.close()
    if runtime.in_use is not None:
        runtime.in_use.release()
        runtime.in_use = None


async def set_webhook(app: PassApp) -> None:
    """Tell Telegram where to post the updates (the one web server, started by post_init).
    A network that is down is tried again as in reach_telegram."""
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    hook = runtime.settings.webhook
    delay = FIRST_RETRY
    while True:
        try:
            await app.bot.set_webhook(
                url=hook.url or "",
                allowed_updates=list(ALLOWED_UPDATES),
                secret_token=hook.secret_token,
            )
            return
        except RetryAfter as exc:
            await asyncio.sleep(seconds(exc.retry_after))
        except NetworkError as exc:
            log.warning("setWebhook failed (%s); trying again in %g s", exc.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY)


async def _serve(app: PassApp) -> None:
    """The application started by hand (python-telegram-bot's custom-webhook example), until
    Ctrl-C or SIGTERM. Webhook mode: updates posted to our own web server (bot.board.server)
    are put on its queue. Polling mode: the instance that holds the polling lease polls
    (bot.delivery.leader), the others wait to take over."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    stops: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
    try:
        for stop in stops:
            loop.add_signal_handler(stop, stopping.set)
    except NotImplementedError:
        stops = ()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        settings = app.bot_data[RUNTIME_KEY].settings
        if settings.telegram.mode is Mode.WEBHOOK:
            await set_webhook(app)
            log.info("event=webhook_set url_path=%s", settings.webhook.url_path)
        else:
            start_leading(app)
        await stopping.wait()
    finally:
        for stop in stops:
            loop.remove_signal_handler(stop)
        if RUNTIME_KEY in app.bot_data:
            # the updates fetched are handled before the application stops
            await stop_leading(app)
        if app.running:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def register_menus(app: PassApp) -> None:
    """The command menu in each of our languages (and English where the client's is other),
    each with that language's names of the commands (/demande, /aanvraag)."""
    for language in (None, *LANGUAGES):
        _ = translator(language or "en").gettext
        commands = [
            BotCommand(c.name_in(language or "en"), _(c.description)[:256])
            for c in handlers.offered(app.bot_data[RUNTIME_KEY].settings)
        ]
        await app.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=language
        )


class TokenRejected(Exception):
    """The Bot API rejected the bot token (getMe answered 401 or 404). Its text never holds the
    token, and nothing is chained to it that would."""


FIRST_RETRY = 1.0  # seconds; doubled after each failure
LONGEST_RETRY = 60.0


async def reach_telegram(app: PassApp) -> None:
    """Initialise the application (getMe) until Telegram answers. A network that is down (a
    command post's link often comes back) is tried again after 1, 2, 4 … 60 s, forever, one log
    line each time; a rejected token raises TokenRejected at once."""
    delay = FIRST_RETRY
    while True:
        try:
            await app.initialize()
            return
        except InvalidToken:
            await app.bot.shutdown()
            raise TokenRejected("the Bot API rejected the bot token") from None
        except RetryAfter as exc:
            wait = seconds(exc.retry_after)
            log.warning("Telegram asks to wait; trying again in %g s", wait)
            await asyncio.sleep(wait)
        except NetworkError as exc:  # TimedOut too
            log.warning("Telegram unreachable (%s); trying again in %g s", exc.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY)


async def _reach_unless_stopped(app: PassApp) -> bool:
    """reach_telegram, unless Ctrl-C or SIGTERM comes first: False then (quietly)."""
    loop = asyncio.get_running_loop()
    reaching = asyncio.ensure_future(reach_telegram(app))
    stops: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
    try:
        for stop in stops:
            loop.add_signal_handler(stop, reaching.cancel)
    except NotImplementedError:  # an event loop without signal handlers (Windows)
        stops = ()
    try:
        await asyncio.wait([reaching])
    finally:
        for stop in stops:
            loop.remove_signal_handler(stop)
    if reaching.cancelled():
        await app.bot.shutdown()
        log.info("Stopped before Telegram could be reached")
        return False
    reaching.result()  # TokenRejected
    return True


def run(settings: Settings) -> None:
    """Run until interrupted, by long polling or as a webhook, as configured. Telegram is
    reached first (reach_telegram): TokenRejected if it refuses the token."""
    memory.tune()
    app = build_application(settings)
    # PTB's run_* take the current event loop: the bot is reached on the same one
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        reached = loop.run_until_complete(_reach_unless_stopped(app))
    except BaseException:
        loop.close()
        raise
    if not reached:
        loop.close()
        return
    try:
        loop.run_until_complete(_serve(app))
    finally:
        loop.close()
