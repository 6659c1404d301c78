"""What the field sends besides words: a photo, video, video note, voice note, audio file or
document (or a shared contact or venue) joins an incident's timeline when it is a reply to the
card or to any bot message about the incident, or when its caption is `/log [#ref] …`. A later
item of an album joins the entry its first item made. Anything else (a sticker, a GIF, media
that is neither a reply nor logged) is chatter: not recorded, not answered."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from telegram import Audio, Message, Update, Video, VideoNote, Voice
from telegram.warnings import PTBDeprecationWarning

from bot.core.i18n import N_
from bot.core.models import MediaKind, MediaSent
from bot.core.policy import Action
from bot.evidence import service as evidence
from bot.incidents import service as incidents
from handlers.context import PContext
from handlers.targeting import target
from handlers.wrapper import Callback


def media_sent(message: Message) -> MediaSent | None:
    """The message's media as plain values; None for a kind not kept (a sticker, a GIF)."""

    def sent(kind: MediaKind, **fields: Any) -> MediaSent:
        return MediaSent(
            kind,
            message.message_id,
            media_group_id=message.media_group_id,
            caption=message.caption,
            **fields,
        )

    if message.animation is not None or message.sticker is not None:
        return None  # a GIF comes with a document too: not evidence
    if message.photo:
        # Telegram sends each size of the picture: the largest is the original's
        largest = max(message.photo, key=lambda size: (size.width * size.height, size.file_size))
        return sent(
            MediaKind.PHOTO,
            file_id=largest.file_id,
            file_unique_id=largest.file_unique_id,
            file_size=largest.file_size,
            width=largest.width,
            height=largest.height,
        )
    if message.video is not None:
        video = message.video
        return sent(
            MediaKind.VIDEO,
            file_id=video.file_id,
            file_unique_id=video.file_unique_id,
            file_size=video.file_size,
            duration=_seconds(video),
            width=video.width,
            height=video.height,
            mime_type=video.mime_type,
            file_name=video.file_name,
        )
    if message.video_note is not None:
        note = message.video_note
        return sent(
            MediaKind.VIDEO_NOTE,
            file_id=note.file_id,
            file_unique_id=note.file_unique_id,
            file_size=note.file_size,
            duration=_seconds(note),
            width=note.length,
            height=note.length,
        )
    if message.voice is not None:
        voice = message.voice
        return sent(
            MediaKind.VOICE,
            file_id=voice.file_id,
            file_unique_id=voice.file_unique_id,
            file_size=voice.file_size,
            duration=_seconds(voice),
            mime_type=voice.mime_type,
        )
    if message.audio is not None:
        audio = message.audio
        return sent(
            MediaKind.AUDIO,
            file_id=audio.file_id,
            file_unique_id=audio.file_unique_id,
            file_size=audio.file_size,
            duration=_seconds(audio),
            mime_type=audio.mime_type,
            file_name=audio.file_name,
        )
    if message.document is not None:
        document = message.document
        return sent(
            MediaKind.DOCUMENT,
            file_id=document.file_id,
            file_unique_id=document.file_unique_id,
            file_size=document.file_size,
            mime_type=document.mime_type,
            file_name=document.file_name,
        )
    if message.venue is not None:
        venue = message.venue
        return sent(
            MediaKind.VENUE,
            name=venue.title,
            address=venue.address,
            lat=venue.location.latitude,
            lon=venue.location.longitude,
        )
    if message.contact is not None:
        contact = message.contact
        name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
        return sent(
            MediaKind.CONTACT,
            name=name or None,
            phone=contact.phone_number,
        )
    return None


def _seconds(media: Audio | Video | VideoNote | Voice) -> int | None:
    """A duration in seconds: PTB 22 gives an int (warning that it will become a timedelta)
    or, with PTB_TIMEDELTA set, the timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: object = media.duration
    if isinstance(value, timedelta):
        return round(value.total_seconds())
    return int(value) if isinstance(value, int | float) else None


def logged(caption: str | None, names: Sequence[str], bot_username: str | None) -> str | None:
    """What follows `/log` (or /note, /logboek; `/log@thisbot`) at the start of a caption, as
    typed; None when the caption is no /log."""
    if not caption or not caption.startswith("/"):
        return None
    parts = caption.split(maxsplit=1)
    head, _, addressee = parts[0][1:].partition("@")
    if head.lower() not in names:
        return None
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    return parts[1].strip() if len(parts) > 1 else ""


def on_media(log_names: Sequence[str]) -> Callback:
    """The handler, knowing the /log command's names (handlers' table)."""
    names = tuple(name.lower() for name in log_names)

    async def media_message(update: Update, context: PContext) -> None:
        actor = context.actor
        message = update.effective_message
        if message is None or actor.chat is None:
            return
        sent = media_sent(message)
        if sent is None:
            return
        unit = context.unit
        # a later item of an album that already joined a timeline
        if sent.media_group_id is not None:
            ref = await evidence.album_in(unit, message.chat_id, sent.media_group_id)
            if ref is not None:
                await evidence.record(
                    unit, ref=ref, sent=sent, author=actor.author, chat_id=actor.chat_id
                )
                return
        after = logged(message.caption, names, context.bot.username)
        if after is not None:
            incident, rest = await target(context, after.split()[:1], Action.LOG)
            if after and not rest:  # the first word was the #ref
                after = after.split(maxsplit=1)[1] if len(after.split(maxsplit=1)) > 1 else ""
            await evidence.record(
                unit,
                ref=incident.ref,
                sent=replace(sent, caption=after or None),
                author=actor.author,
                chat_id=actor.chat_id,
            )
            context.say(
                N_("📝 Added to the timeline of #{ref}."), ref=incident.ref, about=incident.ref
            )
            return
        reply_to = message.reply_to_message
        if reply_to is None:
            return
        link = await incidents.message_link(unit, message.chat_id, reply_to.message_id)
        if link is None or link.purpose == "evaluation":
            # chatter; an evaluation question takes words, not files
            return
        await evidence.record(
            unit, ref=link.incident_ref, sent=sent, author=actor.author, chat_id=actor.chat_id
        )

    return media_message
