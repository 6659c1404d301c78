"""What the field sent, as the card, /status and the timeline show it: one line per entry
("📷 photo ×3: the plume from the north"), the card's counts ("📷 3 · 🎙 1"), and the notice
that the evidence folder is full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from babel.numbers import format_decimal

from bot.core import vocabulary as labels
from bot.core.i18n import N_, Translator, each_language
from bot.core.models import MediaItem, MediaKind, TimelineEntry
from bot.render.common import text


def duration(seconds: int) -> str:
    """0:42, 12:05, 1:02:03."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def media_counts(counts: Mapping[MediaKind, int]) -> str:
    """📷 3 · 🎙 1, in the order of MediaKind; "" when there is nothing."""
    return " · ".join(
        f"{labels.MEDIA_MARK[kind]} {counts[kind]}" for kind in MediaKind if counts.get(kind)
    )


def _one(tr: Translator, item: MediaItem) -> str:
    """A lone item: what it is, with what tells it apart (a length, a name)."""
    label = f"{labels.MEDIA_MARK[item.kind]} {tr.gettext(labels.MEDIA_KIND[item.kind])}"
    details: list[str] = []
    if item.kind is MediaKind.CONTACT:
        details = [text(v) for v in (item.name, item.phone) if v]
    elif item.kind is MediaKind.VENUE:
        details = [text(v) for v in (item.name, item.address) if v]
    else:
        if item.file_name and item.kind in (MediaKind.DOCUMENT, MediaKind.AUDIO):
            details.append(text(item.file_name))
        if item.duration:
            details.append(duration(item.duration))
    return label + (" " + ", ".join(details) if details else "")


def media_summary(tr: Translator, entry: TimelineEntry) -> str:
    """What a MEDIA entry carries: "📷 photo ×3", "🎙 voice note 0:42", "📷 photo ×2 ·
    🎥 video" (an album of both)."""
    items: Sequence[MediaItem] = entry.media
    if len(items) == 1:
        return _one(tr, items[0])
    if not items:
        kind = MediaKind(entry.field) if entry.field in set(MediaKind) else MediaKind.DOCUMENT
        return f"{labels.MEDIA_MARK[kind]} {tr.gettext(labels.MEDIA_KIND[kind])}"
    counts: dict[MediaKind, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    parts = []
    for kind in MediaKind:
        if counts.get(kind):
            part = f"{labels.MEDIA_MARK[kind]} {tr.gettext(labels.MEDIA_KIND[kind])}"
            parts.append(part + (f" ×{counts[kind]}" if counts[kind] > 1 else ""))
    return " · ".join(parts)


def media_line(tr: Translator, entry: TimelineEntry) -> str:
    """The `what` of a MEDIA entry's timeline line: its summary and caption."""
    summary = media_summary(tr, entry)
    return f"{summary}: {text(entry.text)}" if entry.text else summary


def render_evidence_full(ref: int, cap_mb: float, languages: Sequence[str]) -> str:
    """For the liaisons: the evidence folder reached its size limit."""
    return each_language(
        languages,
        lambda tr: (
            "⚠️ "
            + tr.gettext(
                N_(
                    "The folder that keeps the photos, videos and voice notes sent to the "
                    "timelines is full ({cap} MB). What is sent to #{ref} is still on its "
                    "timeline, but the files are no longer kept. An admin can make room or "
                    "raise [evidence] max_total_mb."
                )
            ).format(cap=format_decimal(cap_mb, locale=tr.locale), ref=ref)
        ),
    )
