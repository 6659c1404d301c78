"""The after-action report as one self-contained HTML document (inline CSS, no external
asset: readable on a phone, printable), in each language of the chat; and the evaluation
questions asked when an incident closes."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from html import escape as _escape
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, format_percent

from bot.core import vocabulary as labels
from bot.core.i18n import Translator, translator
from bot.core.models import (
    Country,
    Incident,
    KeepStatus,
    KeptFile,
    MediaItem,
    Report,
    ResourceType,
    Severity,
    TimelineEntry,
)
from bot.core.vocabulary import AUTHORITY, PHASE, TYPE, ZONE, ZONE_OF_CITY
from bot.render import common
from bot.render.media import duration as media_duration
from bot.render.report_chart import chart
from bot.render.requests import places
from bot.render.timeline import days_of, timeline_line

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0;
padding:1rem;color:#1b1b1b;line-height:1.45;max-width:60rem;margin:auto;overflow-wrap:anywhere}
h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.1rem;border-bottom:2px solid #c00;
padding-bottom:.2rem;margin-top:1.6rem}
.meta{color:#555;font-size:.9rem}.exercise{background:#ffe08a;padding:.3rem .6rem;
font-weight:bold;display:inline-block}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.4rem 0}
th,td{border:1px solid #ccc;padding:.3rem .4rem;text-align:left;vertical-align:top;
overflow-wrap:normal}
th{background:#f2f2f2}td.num{text-align:right;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:.5rem}.card{border:1px solid #ccc;border-radius:6px;
padding:.4rem .7rem;min-width:8rem}.card b{display:block;font-size:1.2rem}
.wrap{overflow-x:auto}.wrap:focus{outline:2px solid #1a5fb4}
section.lang+section.lang{break-before:page}
footer{color:#595959;font-size:.8rem;margin-top:2rem}
.photos{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(18rem,100%),1fr));
gap:.5rem;margin:.3rem 0 .6rem}figure.photo{margin:0;min-width:0;break-inside:avoid}
figure.photo img{display:block;box-sizing:border-box;width:100%;height:auto;
border:1px solid #ccc}figure.photo figcaption{font-size:.8rem;color:#444}
code.sha{font-size:.72rem;overflow-wrap:anywhere;word-break:break-all}
figure.chart{margin:.6rem 0}svg.chart{display:block;overflow:visible;break-inside:avoid}
svg.chart .t{font-size:11px;fill:#1b1b1b}svg.chart .b{font-weight:600}svg.chart .s{font-size:10px}
figure.chart summary{cursor:pointer;color:#1a5fb4}figure.chart ul{font-size:.88rem}
@media screen and (max-width:48rem){
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:auto}
table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);
white-space:nowrap}
table.stack tr{border:1px solid #ccc;border-radius:6px;margin:.5rem 0;padding:.15rem .5rem}
table.stack td{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,3fr);gap:.6rem;
border:0;border-bottom:1px solid #eee;padding:.25rem 0;text-align:left;white-space:normal}
table.stack td:last-child{border-bottom:0}
table.stack td::before{content:attr(data-label);font-weight:600;color:#444;
overflow-wrap:anywhere}
}
@media print{body{padding:0;max-width:none}a{color:inherit;text-decoration:none}
.wrap{overflow:visible}thead{display:table-header-group}tr,.card,li{break-inside:avoid}
h1,h2,.request{break-after:avoid}table{font-size:.75rem}th,td{padding:.2rem .25rem;
overflow-wrap:anywhere}th,td.when{overflow-wrap:normal}td.num{white-space:normal}
figure.chart details{display:none}}
"""


def escape(value: str) -> str:
    """Text content (never an attribute): quotes stay as they are."""
    return _escape(value, quote=False)


def duration(tr: Translator, minutes: float | None) -> str:
    if minutes is None:
        return "—"
    whole = round(minutes)
    if whole < 60:
        return tr.gettext("{n} min").format(n=whole)
    return tr.gettext("{h} h {m} min").format(h=whole // 60, m=f"{whole % 60:02d}")


def _when(tr: Translator, moment: datetime | None, timezone: str) -> str:
    return tr.datetime(moment, timezone) if moment else "—"


def utc_offset(moment: datetime, timezone: str) -> str:
    """UTC+01:00: the zone's offset at that moment (a naive moment is UTC, as babel reads it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.astimezone(ZoneInfo(timezone)).utcoffset() or timedelta(0)
    minutes = round(offset.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_name(tr: Translator, timezone: str, moments: Sequence[datetime]) -> str:
    """The time zone as people say it, with its offsets over these moments: "heure de
    Bruxelles (UTC+01:00)", "Brusselse tijd (UTC+01:00, UTC+02:00)" across a change of hour."""
    if timezone in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu"):
        return "UTC"
    if timezone in ZONE:
        name = tr.gettext(ZONE[timezone])
    else:
        name = tr.gettext(ZONE_OF_CITY).format(city=tr.zone_city(timezone))
        if tr.language == "fr":  # heure d'Oslo, not heure de Oslo
            name = re.sub(r"\bde (?=[AEIOUYÂÉÈÎÔ])", "d'", name)
    offsets: list[str] = []
    for moment in sorted(moments):
        offset = utc_offset(moment, timezone)
        if offset not in offsets:
            offsets.append(offset)
    return f"{name} ({', '.join(offsets)})" if offsets else name


def _type_label(tr: Translator, code: str) -> str:
    try:
        return tr.gettext(TYPE[ResourceType(code)])
    except ValueError:
        return code.replace("_", " ")


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    nums: set[int],
    caption: str,
    times: frozenset[int] = frozenset(),
) -> str:
    """A table that reads on a phone (each row a box of "header: value" lines, under 48 rem),
    in print (its header row repeated on each page) and with a screen reader (named by
    `caption`; explicit roles, since WebKit forgets a table laid out as blocks)."""
    head = "".join(f'<th scope="col" role="columnheader">{escape(h)}</th>' for h in headers)
    body = "".join(
        '<tr role="row">'
        + "".join(
            f'<td role="cell" data-label="{_escape(headers[i])}"'
            + (' class="num">' if i in nums else ' class="when">' if i in times else ">")
            + f"<div>{c}</div></td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    label = _escape(caption)
    return (
        f'<div class="wrap" tabindex="0" role="region" aria-label="{label}">'
        f'<table class="stack" role="table" aria-label="{label}">'
        f'<thead role="rowgroup"><tr role="row">{head}</tr></thead>'
        f'<tbody role="rowgroup">{body}</tbody></table></div>'
    )


def number(tr: Translator, value: float, decimals: int = 1) -> str:
    """3,5 in French and Dutch, 3.5 in English (babel)."""
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    return format_decimal(round(value, decimals), format=pattern, locale=tr.locale)


def percent(tr: Translator, ratio: float) -> str:
    """45 % in French, 45% in English and Dutch (babel)."""
    return format_percent(ratio, locale=tr.locale)


def flag(tr: Translator, country: Country | str) -> str:
    """The country's flag for the eye, hidden from screen readers, with its name beside it for
    every reader (a machine without an emoji font shows the flag as empty boxes)."""
    try:
        value = Country(country)
    except ValueError:
        return escape(str(country))
    return f'<span aria-hidden="true">{common.FLAG[value]}</span> ' + escape(
        common.country_name(tr, value)
    )


def stars(tr: Translator, rating: int) -> str:
    """★★★★☆ for the eye, "4 out of 5" in words for everyone."""
    return f'<span aria-hidden="true">{"★" * rating + "☆" * (5 - rating)}</span> ' + escape(
        tr.gettext("{rating} out of 5").format(rating=rating)
    )


def _section(tr: Translator, report: Report, timezone: str) -> str:
    _ = tr.gettext
    i = report.incident
    parts: list[str] = []
    if i.exercise:
        parts.append(f'<p class="exercise">{escape(_("EXERCISE"))}</p>')
    parts.append(
        "<h1>" + escape(_("After-action report")).strip() + f" · #{i.ref} {escape(i.title)}</h1>"
    )
    facts = [
        _("Declared {declared}").format(declared=_when(tr, i.declared_at, timezone)),
        _("closed {closed}").format(closed=_when(tr, i.closed_at, timezone))
        if i.closed_at
        else _("still open"),
        _("Duration: {duration}").format(duration=duration(tr, report.duration_min)),
    ]
    parts.append('<p class="meta">' + escape(" · ".join(facts)) + "</p>")
    where = escape(i.location_text or "") + (
        f" ({i.lat:.5f}, {i.lon:.5f})" if i.lat is not None and i.lon is not None else ""
    )
    parts.append(
        '<p class="meta">'
        + " · ".join(
            [
                escape(_("Location: {location}").format(location="")) + (where or "—"),
                escape(_("Country: {country}").format(country="")) + flag(tr, i.country),
                escape(
                    _("Commander: {name}").format(name=i.commander.name if i.commander else "—")
                ),
            ]
        )
        + "</p>"
    )

    # summary
    units = [u for r in report.requests for u in r.units]
    acks = [a.ack_rate for a in report.alerts if a.ack_rate is not None]
    ratings = [e.rating for e in report.evaluations if e.rating]
    cards = [
        (_("Resource requests"), str(len(report.requests))),
        (_("Units committed"), str(sum(1 for u in units if u.committed_at))),
        (_("Cross-border interventions"), str(len(report.crossings))),
        (_("Alerts"), str(len(report.alerts))),
        (
            _("Acknowledged"),
            percent(tr, sum(acks) / len(acks)) if acks else "—",
        ),
        (
            _("Evaluation"),
            f"{number(tr, sum(ratings) / len(ratings))} / 5" if ratings else "—",
        ),
    ]
    parts.append("<h2>" + escape(_("Summary")) + "</h2>")
    parts.append(
        '<div class="cards">'
        + "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)
        + "</div>"
    )

    # the chart: phases, units' paths, alerts and statements on one time axis
    parts.append("<h2>" + escape(_("The incident over time")) + "</h2>")
    parts.append(chart(tr, report, timezone, tr.language))

    # phases
    parts.append("<h2>" + escape(_("Phases")) + "</h2>")
    parts.append(
        _table(
            [_("Country"), _("Level"), _("Authority in charge"), _("From"), _("To"), _("Duration")],
            [
                [
                    flag(tr, p.country),
                    escape(_(PHASE[(p.country, p.level)])),
                    escape(_(AUTHORITY[(p.country, p.level)])),
                    escape(_when(tr, p.started_at, timezone)),
                    # a closed incident's last phase ends with it, an open one's goes on
                    escape(
                        _when(tr, p.ended_at or i.closed_at, timezone)
                        if p.ended_at or i.closed_at
                        else _("still open")
                    ),
                    duration(
                        tr,
                        (
                            (p.ended_at or i.closed_at or report.generated_at) - p.started_at
                        ).total_seconds()
                        / 60,
                    ),
                ]
                for p in report.phases
            ],
            {5},
            _("Phases"),
            frozenset({3, 4}),
        )
    )

    # resource requests with their times
    parts.append("<h2>" + escape(_("Resource requests")) + "</h2>")
    if not report.requests:
        parts.append("<p>" + escape(_("None.")) + "</p>")
    for r in report.requests:
        heading = _("Request {id}: {quantity} × {type}").format(
            id=r.id, quantity=r.quantity, type=_type_label(tr, r.type)
        )
        parts.append(
            '<p class="request"><b>'
            + escape(heading)
            + "</b> · "
            + escape(_when(tr, r.requested_at, timezone))
            + (" · " + escape(r.note) if r.note else "")
            + "</p>"
        )
        parts.append(
            _table(
                [
                    _("Unit"),
                    _("Agency"),
                    _("Committed"),
                    _("On scene"),
                    _("Released"),
                    _("Request → commit"),
                    _("Commit → arrival"),
                    _("Arrival → release"),
                ],
                [
                    [
                        escape(u.code)
                        + ("<br>" + escape(places(tr, u.places)) if u.places is not None else ""),
                        escape(u.agency) + "<br>" + flag(tr, u.country),
                        escape(_when(tr, u.committed_at, timezone)),
                        escape(_when(tr, u.on_scene_at, timezone)),
                        escape(_when(tr, u.released_at, timezone)),
                        duration(tr, u.request_to_commit_min),
                        duration(tr, u.commit_to_arrival_min),
                        duration(tr, u.arrival_to_release_min),
                    ]
                    for u in r.units
                ],
                {5, 6, 7},
                heading,
                frozenset({2, 3, 4}),
            )
        )

    # beds and places, per facility (a facility gives part of its count, not itself)
    held: dict[tuple[str, str, str], int] = {}
    for u in units:
        if u.places is not None and u.committed_at is not None:
            key = (u.code, u.agency, u.country)
            held[key] = held.get(key, 0) + u.places
    if held:
        parts.append("<h2>" + escape(_("Beds and places")) + "</h2>")
        parts.append(
            _table(
                [_("Facility"), _("Agency"), _("Places committed")],
                [
                    [escape(code), escape(agency) + "<br>" + flag(tr, country), str(count)]
                    for (code, agency, country), count in sorted(held.items())
                ],
                {2},
                _("Beds and places"),
            )
        )

    parts.append("<h2>" + escape(_("Cross-border interventions")) + "</h2>")
    if report.crossings:
        parts.append(
            "<ul>"
            + "".join(
                "<li>"
                + escape(
                    _("{unit} ({agency}, {country}): {distance} km, on scene after {time}").format(
                        unit=u.code,
                        agency=u.agency,
                        country=u.country,
                        distance=number(tr, u.distance_km),
                        time=duration(tr, u.request_to_arrival_min),
                    )
                )
                + "</li>"
                for u in report.crossings
            )
            + "</ul>"
        )
    else:
        parts.append("<p>" + escape(_("None.")) + "</p>")

    parts.append("<h2>" + escape(_("Alerts")) + "</h2>")
    if report.alerts:
        parts.append(
            _table(
                [_("Alert"), _("Sent"), _("Severity"), _("Acknowledged"), _("Text")],
                [
                    [
                        f"#{a.id}",
                        escape(_when(tr, a.sent_at, timezone)),
                        escape(
                            _(labels.SEVERITY[Severity(a.severity)])
                            if a.severity in set(Severity)
                            else a.severity
                        ),
                        f"{a.acknowledged}/{a.chats}"
                        + (f" ({percent(tr, a.ack_rate)})" if a.ack_rate is not None else ""),
                        escape(a.texts.get(tr.language) or a.text),
                    ]
                    for a in report.alerts
                ],
                {3},
                _("Alerts"),
                frozenset({1}),
            )
        )
    else:
        parts.append("<p>" + escape(_("None.")) + "</p>")

    parts.append("<h2>" + escape(_("Statements")) + "</h2>")
    if report.statements:
        parts.append(
            "<ul>"
            + "".join(
                "<li>"
                + escape(_when(tr, s.published_at, timezone))
                + " · "
                + escape(
                    s.texts.get(tr.language) or s.texts.get("") or next(iter(s.texts.values()), "")
                )
                + "</li>"
                for s in report.statements
            )
            + "</ul>"
        )
    else:
        parts.append("<p>" + escape(_("None.")) + "</p>")

    parts.append("<h2>" + escape(_("Evaluations")) + "</h2>")
    if report.evaluations:
        parts.append(
            _table(
                [_("Who"), _("Rating"), _("What went well, what to improve")],
                [
                    [
                        escape(e.party or _("command"))
                        + (f"<br><small>{escape(e.person)}</small>" if e.person else ""),
                        stars(tr, e.rating) if e.rating else "—",
                        escape(e.comment or "—").replace("\n", "<br>"),
                    ]
                    for e in report.evaluations
                ],
                set(),
                _("Evaluations"),
            )
        )
    else:
        parts.append("<p>" + escape(_("None.")) + "</p>")

    # the field's files: what each is, and the original's SHA-256 where it was kept
    parts.append("<h2>" + escape(_("Photos, videos, voice notes and documents")) + "</h2>")
    parts.append(_files(tr, report.files, timezone))

    parts.append("<h2>" + escape(_("Timeline")) + "</h2>")
    parts.append(_timeline(tr, report.timeline, timezone, report.thumbnails))
    parts.append(
        "<footer>"
        + escape(
            _("Made by Passerelle on {date}. Time zone: {zone}.").format(
                date=tr.datetime(report.generated_at, timezone),
                zone=zone_name(tr, timezone, _moments(report)),
            )
        )
        + "</footer>"
    )
    return f'<section class="lang" lang="{tr.language}">' + "\n".join(parts) + "</section>"


def _timeline(
    tr: Translator,
    entries: Sequence[TimelineEntry],
    timezone: str,
    thumbnails: Mapping[int, bytes],
) -> str:
    """The whole timeline, each day headed by its date, entries numbered as in /timeline and
    on the map (the list's numbers go on across the days)."""
    parts: list[str] = []
    for number, day in days_of(entries, timezone):
        parts.append(f"<h3>{escape(tr.day(day[0].at, timezone))}</h3>")
        parts.append(
            f'<ol start="{number}">'
            + "".join(
                "<li>"
                + timeline_line(tr, e, timezone).replace("<code>", "<b>").replace("</code>", "</b>")
                + f' <small class="meta">{escape(tr.datetime(e.at, timezone, "short"))}</small>'
                + _earlier(tr, e, timezone)
                + _photos(tr, e, timezone, thumbnails)
                + "</li>"
                for e in day
            )
            + "</ol>"
        )
    return "\n".join(parts)


def _photos(
    tr: Translator, entry: TimelineEntry, timezone: str, thumbnails: Mapping[int, bytes]
) -> str:
    """The entry's photos, inline (the report stays one file: each a small JPEG in the page),
    each described for who cannot see it."""
    shown = [item for item in entry.media if item.id in thumbnails]
    if not shown:
        return ""
    return (
        '<div class="photos">'
        + "".join(_photo(tr, item, timezone, thumbnails[item.id]) for item in shown)
        + "</div>"
    )


def _photo(tr: Translator, item: MediaItem, timezone: str, jpeg: bytes) -> str:
    who = item.author.name if item.author else "—"
    when = tr.datetime(item.at, timezone, "short")
    if item.caption:
        described = tr.gettext("Photo sent by {name} on {time}: {caption}").format(
            name=who, time=when, caption=item.caption
        )
    else:
        described = tr.gettext("Photo sent by {name} on {time}").format(name=who, time=when)
    size = ""
    if item.width and item.height:  # the thumbnail's shape, so the page does not jump
        scale = min(1.0, 640 / max(item.width, item.height))
        size = f' width="{round(item.width * scale)}" height="{round(item.height * scale)}"'
    data = base64.b64encode(jpeg).decode("ascii")
    return (
        f'<figure class="photo"><img src="data:image/jpeg;base64,{data}"{size}'
        f' alt="{_escape(described)}"><figcaption>{escape(described)}</figcaption></figure>'
    )


def file_size(tr: Translator, size: int | None) -> str:
    """12,4 Mo, 830 ko in French; 12.4 MB, 830 kB in English (babel's decimals)."""
    if size is None:
        return "—"
    if size >= 1_000_000:
        return tr.gettext("{size} MB").format(size=number(tr, size / 1_000_000))
    return tr.gettext("{size} kB").format(
        size=number(tr, max(size / 1000, 0.1), 1 if size < 10_000 else 0)
    )


def _kept(tr: Translator, kept: KeptFile) -> str:
    _ = tr.gettext
    if kept.status is KeepStatus.KEPT:
        return (
            escape(_("kept")) + f'<br><code class="sha">SHA-256 {escape(kept.sha256 or "")}</code>'
        )
    why = {
        KeepStatus.PENDING: _("not downloaded yet"),
        KeepStatus.TOO_BIG: _("not kept: larger than the 20 MB a bot may download"),
        KeepStatus.CAP: _("not kept: the evidence folder was full"),
        KeepStatus.FAILED: _("not kept: the download failed"),
    }[kept.status]
    # the technical reason as recorded (an HTTP status, "file gone"), for whoever looks into it
    detail = f"<br><small>{escape(kept.reason)}</small>" if kept.reason else ""
    return escape(why) + detail


def _files(tr: Translator, files: Sequence[KeptFile], timezone: str) -> str:
    _ = tr.gettext
    if not files:
        return "<p>" + escape(_("None.")) + "</p>"
    rows = []
    for kept in files:
        item = kept.item
        what = f'<span aria-hidden="true">{labels.MEDIA_MARK[item.kind]}</span> ' + escape(
            _(labels.MEDIA_KIND[item.kind])
        )
        if item.file_name:
            what += "<br><small>" + escape(item.file_name) + "</small>"
        if item.caption:
            what += "<br>" + escape(item.caption)
        rows.append(
            [
                what,
                escape(_when(tr, item.at, timezone))
                + "<br>"
                + escape(item.author.name if item.author else "—"),
                escape(media_duration(item.duration)) if item.duration else "—",
                escape(file_size(tr, kept.size if kept.size is not None else item.file_size)),
                _kept(tr, kept),
            ]
        )
    headers = [_("File"), _("Sent"), _("Length"), _("Size"), _("Original")]
    return _table(headers, rows, {2, 3}, _("Photos, videos, voice notes and documents"))


def _earlier(tr: Translator, entry: TimelineEntry, timezone: str) -> str:
    """An edited entry's earlier wordings, oldest first, each with when it was written."""
    return "".join(
        "<br><small>"
        + escape(
            tr.gettext("earlier wording, written {time}: “{text}”").format(
                time=tr.datetime(revision.written_at, timezone, "short"),
                text=revision.text or "—",
            )
        )
        + "</small>"
        for revision in entry.earlier
    )


def _moments(report: Report) -> list[datetime]:
    """The moments whose offset the reader needs: the incident's span and the report's date."""
    i = report.incident
    return [m for m in (i.declared_at, i.closed_at, report.generated_at) if m is not None]


def render_report(report: Report, languages: Sequence[str], timezone: str) -> str:
    """A whole HTML document; a bilingual chat gets one section per language."""
    title = f"#{report.incident.ref} {report.incident.title}"
    sections = "\n".join(_section(translator(lang), report, timezone) for lang in languages)
    return (
        f'<!DOCTYPE html>\n<html lang="{languages[0]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
        f"{sections}\n</body></html>\n"
    )


def evaluation_question(tr: Translator, incident: Incident, party: str) -> str:
    _ = tr.gettext
    if party:
        lines = [
            "📝 <b>"
            + _("Evaluation of #{ref} {title}").format(
                ref=incident.ref, title=common.text(incident.title)
            )
            + "</b>",
            _(
                "Your units crossed the border for this incident. How did the cooperation go? "
                "Rate it from 1 to 5 below, then reply to this message with what went well and "
                "what to improve."
            ),
        ]
    else:
        lines = [
            "📝 <b>"
            + _("Evaluation of #{ref} {title}").format(
                ref=incident.ref, title=common.text(incident.title)
            )
            + "</b>",
            _(
                "The incident is closed. Commander, how did it go? Rate it from 1 to 5 below, "
                "then reply to this message with what went well and what to improve."
            ),
        ]
    return "\n".join(lines)
