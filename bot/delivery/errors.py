"""Telegram's refusals, read in one place: which mean "already so", which "gone"."""

from __future__ import annotations

from datetime import timedelta

from telegram.error import BadRequest


def not_modified(error: BadRequest) -> bool:
    """An edit that would change nothing: the message already reads so."""
    return "not modified" in error.message.lower()


def message_gone(error: BadRequest) -> bool:
    """The message was deleted, or is too old to be edited: post it again."""
    reason = error.message.lower()
    return "not found" in reason or "can't be edited" in reason


def seconds(retry_after: int | float | timedelta) -> float:
    """A 429's retry_after, whichever type this version of the library gives."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
