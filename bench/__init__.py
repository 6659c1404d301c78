"""Benchmarks: the bot and the Telegram stand-in in separate processes, measured from the
stand-in's side. Run them with `python -m bench` (see docs/benchmarks.md)."""
