"""Pure rendering: domain objects and a language in, Telegram HTML out. No I/O here."""
