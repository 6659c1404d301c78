"""The one wrapper around every handler, applied where the handlers are registered: what each
of them needs done and must not do itself.

The handler's work runs inside the update's unit of work, in a savepoint: a `UserError` undoes
what it wrote and becomes the refusal, in the reader's language (the button's toast, or an
answer in the chat); any other error undoes it too and goes on to the error handler. Either
way the unit is then committed (the update stays claimed: it is not handled twice) and the
effects it collected are applied, only now: live messages refreshed, the outbox woken, the
answer sent. A handler cancelled while the bot stops stores nothing: the update was not
confirmed, and Telegram delivers it again. The database connection lost (`StorageLost`): the
unit is abandoned, not committed (the claim alone would hide the update's lost effect), and
the update is handled again (bot.delivery.inbox.PassApplication)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot.core.db import StorageLost
from bot.core.errors import UserError
from handlers.context import PContext

Callback = Callable[[Update, PContext], Coroutine[Any, Any, None]]


def handled(body: Callback) -> Callback:
    async def run(update: Update, context: PContext) -> None:
        try:
            async with context.unit.attempt():
                await body(update, context)
        except UserError as error:
            context.refuse(error)
        except StorageLost:
            await context.abandon()
            raise
        except Exception:
            await context.finish()  # handled, with an error: the error handler says so
            raise
        except BaseException:
            await context.abandon()  # cancelled (shutting down): Telegram delivers it again
            raise
        await context.finish()

    run.__name__ = run.__qualname__ = getattr(body, "__name__", "handler")
    return run
