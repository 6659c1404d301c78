"""The gate, run first for every update (handler group -1): has this update been handled
before? Is the chat registered? Who is acting, in which languages? Everything after it can
rely on `context.actor`."""

from __future__ import annotations

import logging

from telegram import Chat as TgChat
from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ApplicationHandlerStop

from bot.core import directory
from bot.core.i18n import N_, normalize_language, translator
from bot.core.models import Person
from bot.incidents import service as incidents
from bot.render.common import text
from handlers.context import Actor, PContext, render_text
from handlers.errors import notify_failure

log = logging.getLogger(__name__)


async def gate(update: Update, context: PContext) -> None:
    try:
        await _gate(update, context)
    except ApplicationHandlerStop:
        raise
    except Exception:
        # no handler may run without knowing who acts where: stop this update here
        log.exception("event=gate_failed update=%d", update.update_id)
        await notify_failure(update, context)
        raise ApplicationHandlerStop from None


async def _gate(update: Update, context: PContext) -> None:
    runtime = context.runtime
    db = runtime.db
    if await _migration(update, context):
        raise ApplicationHandlerStop
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or user.is_bot:
        raise ApplicationHandlerStop
    # one read for the update, the person and the chat
    seen, known, registered = await directory.gate_lookup(
        db,
        update_id=update.update_id,
        person_id=user.id,
        chat_id=None if chat.type == TgChat.PRIVATE else chat.id,
    )
    if seen:
        log.info("event=duplicate_update update=%d", update.update_id)
        raise ApplicationHandlerStop
    default = runtime.settings.i18n.default_language
    person = known or Person(id=user.id, name=user.full_name, username=user.username)
    own_language = person.language or normalize_language(user.language_code, default)

    if chat.type == TgChat.PRIVATE:
        if known is None:
            # a stranger (a journalist, say): a public contact line, nothing about incidents
            await _press_contact(update, context, own_language)
            raise ApplicationHandlerStop
        context.actor = Actor(
            person=person,
            chat=None,
            chat_id=chat.id,
            languages=(own_language,),
            own_language=own_language,
            timezone=runtime.settings.i18n.timezone,
            update_id=update.update_id,
        )
        return

    if registered is None:
        await _not_registered(update, own_language)
        raise ApplicationHandlerStop
    # the bot is back in a chat that had blocked or removed it: what was held goes out
    if _bot_added(update) and await directory.reinstate(db, chat.id):
        runtime.outbox.wake()
        await runtime.cards.catch_up()
    if known is None:
        # a member of a registered group: known from now on (name only, never their chatter)
        await directory.remember_member(db, user.id, user.full_name, user.username, own_language)
    context.actor = Actor(
        person=person,
        chat=registered,
        chat_id=chat.id,
        languages=registered.languages,
        own_language=own_language,
        timezone=registered.timezone,
        update_id=update.update_id,
    )


async def _migration(update: Update, context: PContext) -> bool:
    """A group upgraded to a supergroup: Telegram's service message in the old chat
    (migrate_to_chat_id) or in the new one (migrate_from_chat_id). Follow the new id."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return False
    if message.migrate_to_chat_id:
        old, new = chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, chat.id
    else:
        return False
    log.info("event=chat_migrated old=%d new=%d", old, new)
    runtime = context.runtime
    if await incidents.was_processed(runtime.db, update.update_id):
        return True
    await directory.follow_migration(runtime.db, old, new, update.update_id)
    # the supergroup gets the cards posted afresh, and what was queued for the group
    await runtime.cards.catch_up()
    runtime.outbox.wake()
    return True


# The handler group of `handled`: after every other.
HANDLED_GROUP = 100


async def unknown_button(update: Update, context: PContext) -> None:
    """Callback data that no handler knows (forged, or from a retired keyboard)."""
    query = update.callback_query
    if query is not None:
        tr = translator(context.actor.own_language)
        await query.answer(tr.gettext("This button is no longer valid."), show_alert=True)


async def handled(update: Update, context: PContext) -> None:
    """Runs after every handler (the last group): an update that stored nothing (a /status, a
    refusal, chatter) is marked handled too, so Telegram delivering it again after a crash
    does not answer it twice. Updates that stored something were marked in that same
    transaction (`Tx.claim_update`)."""
    if context.known_actor is not None:
        await incidents.mark_processed(context.runtime.db, update.update_id)


def _bot_added(update: Update) -> bool:
    change = update.my_chat_member
    return change is not None and change.new_chat_member.status in (
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.ADMINISTRATOR,
    )


def _addressed_to_bot(update: Update) -> bool:
    """A command, a button, or the bot being added: worth an answer in an unknown chat."""
    message = update.effective_message
    if update.callback_query is not None:
        return True
    if update.my_chat_member is not None:
        return update.my_chat_member.new_chat_member.status in (
            ChatMemberStatus.MEMBER,
            ChatMemberStatus.ADMINISTRATOR,
        )
    return bool(message and message.text and message.text.startswith("/"))


async def _not_registered(update: Update, language: str) -> None:
    """Say so (with the id an admin needs), store nothing, do nothing else."""
    chat = update.effective_chat
    assert chat is not None
    log.info("event=unregistered_chat chat=%d", chat.id)
    if not _addressed_to_bot(update):
        return
    html = render_text(
        (language,),
        N_(
            "This chat is not registered with Passerelle, so I do not act here. "
            "An admin can register it with this chat id: {chat_id}"
        ),
        chat_id=f"<code>{chat.id}</code>",
    )
    if update.callback_query is not None:
        await update.callback_query.answer()
    await update.get_bot().send_message(chat.id, html)


async def _press_contact(update: Update, context: PContext, language: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
        return
    message = update.effective_message
    if message is None:
        return
    configured = context.runtime.settings.media.press_contact
    line = configured.get(language) or next(iter(configured.values()), None)  # type: ignore[call-overload]
    html = (
        text(line)
        if line
        else render_text(
            (language,),
            N_(
                "Passerelle is a coordination tool of the emergency services. Journalists: "
                "please contact the press office of the authority in charge (mayor's office, "
                "prefecture or governor)."
            ),
        )
    )
    await message.reply_html(html, do_quote=False)
