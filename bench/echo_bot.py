"""The reference: a bare python-telegram-bot Application that echoes every text message.

    python -m bench.echo_bot BASE_URL TOKEN

No database, no rate limiter, sequential handling: PTB's defaults.
"""

from __future__ import annotations

import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text, do_quote=False)


def main(argv: list[str]) -> int:
    base_url, token = argv[0], argv[1]
    app = Application.builder().token(token).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=["message", "callback_query"], timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
