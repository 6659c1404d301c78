"""The composition root: builds the PTB Application, registers handlers, starts and stops
what runs beside them."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeDefault
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

import handlers
from bot.alerts import service as alerts
from bot.config import Mode, Settings
from bot.core import directory
from bot.core.db import Database
from bot.core.i18n import translator
from bot.core.models import LANGUAGES
from bot.delivery.cards import CardPublisher
from bot.delivery.inbox import ConfirmWhenHandled, Inbox, PassApplication
from bot.delivery.ordering import PerChatOrder
from bot.delivery.outbox import OutboxSender
from bot.delivery.request_cards import RequestCardPublisher
from bot.delivery.tallies import TallyPublisher
from bot.lifecycle.chats import chat_unreachable
from bot.reports import evaluations
from bot.runtime import Runtime
from handlers import requests as resource_requests
from handlers import roster
from handlers.alerts import remind
from handlers.context import RUNTIME_KEY, PContext

log = logging.getLogger(__name__)

PassApp = Application[Any, PContext, Any, Any, Any, Any]


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
        builder = builder.base_file_url(settings.telegram.base_file_url)
    if settings.telegram.concurrent_updates > 1:
        # different chats at the same time, each chat's updates in order
        builder = builder.concurrent_updates(PerChatOrder(settings.telegram.concurrent_updates))
    app: PassApp = builder.build()
    app.bot_data[RUNTIME_KEY] = Runtime(settings=settings, db=Database(settings.storage.path))
    handlers.register(app)
    return app


def _rate_limiter(settings: Settings) -> AIORateLimiter:
    if settings.telegram.rate_limit:
        # Overall: one message every 1/29.5 s, never a burst. AIORateLimiter's default (a bucket
        # of 30 per second) sends 30 at once and then keeps going, so a sliding one-second
        # window sees 31 and Telegram answers 429 (20 of them in a 300-chat alert fan-out).
        return AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 29.5, max_retries=3)
    # no pacing (a Bot API server without flood limits); a 429 is still retried
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)


async def _start(app: PassApp) -> None:
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    await runtime.db.open()
    await directory.seed(runtime.db, runtime.settings)
    runtime.publisher = CardPublisher(
        runtime.db,
        app.bot,
        min_interval=runtime.settings.cards.min_edit_interval,
        timeline_entries=runtime.settings.cards.timeline_entries,
        # a 403 on a card: the same as on any message (the sender starts just below)
        on_unreachable=lambda chat_id, error: runtime.outbox.chat_unreachable(chat_id, error),
    )
    runtime.sender = OutboxSender(runtime.db, app.bot, on_unreachable=chat_unreachable)
    runtime.tally_publisher = TallyPublisher(
        runtime.db,
        app.bot,
        min_interval=runtime.settings.cards.min_edit_interval,
        default_language=runtime.settings.i18n.default_language,
        timezone=runtime.settings.i18n.timezone,
    )
    tallies = runtime.tally_publisher
    runtime.sender.on_delivered(
        "alert", alerts.on_delivered, after=lambda row: tallies.touch(row["subject_id"])
    )
    runtime.sender.on_delivered("evaluation", evaluations.on_delivered)
    # reminders live in the database; a repeating job finds those that are due
    assert app.job_queue is not None
    app.job_queue.run_repeating(remind, interval=30, first=5, name="alert-reminders")
    # resource requests: their cards, offer time-outs (also those overdue after a restart)
    # and the daily roll-call of the agencies' units
    runtime.request_publisher = RequestCardPublisher(
        runtime.db, app.bot, min_interval=runtime.settings.cards.min_edit_interval
    )
    await resource_requests.on_start(app)
    roster.schedule_rollcall(app)
    await register_menus(app)
    await runtime.publisher.catch_up()
    # whatever was queued before a stop or a crash goes out now
    await runtime.sender.start()
    log.info("event=started bot=%s", app.bot.username)


async def _stop_work(app: PassApp) -> None:
    """Before the bot's connection closes: stop sending and editing."""
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    if runtime.sender is not None:
        await runtime.sender.stop()
    if runtime.publisher is not None:
        await runtime.publisher.close()
    if runtime.tally_publisher is not None:
        await runtime.tally_publisher.close()
    if runtime.request_publisher is not None:
        await runtime.request_publisher.close()


async def _stop(app: PassApp) -> None:
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    await runtime.db.close()


async def register_menus(app: PassApp) -> None:
    """The command menu in each of our languages (and English where the client's is other)."""
    for language in (None, *LANGUAGES):
        _ = translator(language or "en").gettext
        commands = [BotCommand(c.name, _(c.description)[:256]) for c in handlers.COMMANDS]
        await app.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=language
        )


def run(settings: Settings) -> None:
    """Run until interrupted, by long polling or as a webhook, as configured."""
    app = build_application(settings)
    allowed = ["message", "edited_message", "callback_query", "my_chat_member"]
    if settings.telegram.mode is Mode.WEBHOOK:
        hook = settings.webhook
        app.run_webhook(
            listen=hook.listen,
            port=hook.port,
            url_path=hook.url_path,
            webhook_url=hook.url,
            secret_token=hook.secret_token,
            allowed_updates=allowed,
        )
    else:
        app.run_polling(allowed_updates=allowed, timeout=settings.telegram.poll_timeout)
