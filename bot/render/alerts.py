"""Alerts as their target chats read them, and the liaison's tally."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core import vocabulary as labels
from bot.core.i18n import Translator, each_language
from bot.core.models import Alert, Tally
from bot.core.text import version_for
from bot.render import common
from bot.render.common import text


def _alert_block(tr: Translator, alert: Alert, timezone: str, reminder: bool) -> str:
    _ = tr.gettext
    lines = []
    if alert.exercise:
        lines.append(common.exercise_banner(tr))
    if reminder:
        lines.append("⏰ <b>" + _("Reminder: this alert is not acknowledged yet.") + "</b>")
    title = _("ALERT")  # outside the f-string, where babel finds it
    lines.append(f"📣 <b>{title} #{alert.id}</b> · {common.severity(tr, alert.severity)}")
    lines.append("<b>" + text(version_for(alert.texts, tr.language)) + "</b>")
    if alert.incident is not None:
        lines.append(
            _("Incident: {incident}").format(
                incident=f"#{alert.incident.ref} {text(alert.incident.title)}"
            )
        )
    lines.append(
        _("From {name}, {time}").format(
            name=text(alert.author.name), time=tr.time(alert.created_at, timezone)
        )
    )
    lines.append(
        "<i>" + _("Press Acknowledge so that the liaison officer knows you have it.") + "</i>"
    )
    return "\n".join(lines)


def render_alert(alert: Alert, languages: Sequence[str], timezone: str) -> str:
    return each_language(languages, lambda tr: _alert_block(tr, alert, timezone, False))


def render_reminder(alert: Alert, languages: Sequence[str], timezone: str) -> str:
    return each_language(languages, lambda tr: _alert_block(tr, alert, timezone, True))


def _tally_block(tr: Translator, tally: Tally, timezone: str) -> str:
    _ = tr.gettext
    alert = tally.alert
    title = _("ALERT")
    head = f"📣 <b>{title} #{alert.id}</b> · {common.severity(tr, alert.severity)} — " + _(
        "acknowledged: {done} of {total}"
    ).format(done=tally.acknowledged, total=len(tally.targets))
    lines = [head]
    if alert.exercise:
        lines.insert(0, common.exercise_banner(tr))
    lines.append("<i>" + text(version_for(alert.texts, tr.language)[:120]) + "</i>")
    for target in tally.targets:
        name = f"<b>{text(target.chat_name)}</b>"
        if target.acked_at is not None:
            who = tr.join(text(a) for a in target.ackers)
            lines.append(f"✅ {name} — {who} ({tr.time(target.acked_at, timezone)})")
        elif target.unreachable:
            lines.append(f"📵 {name} — " + _("unreachable"))
        elif target.delivered_at is not None:
            lines.append(
                f"⏳ {name} — "
                + _("delivered {time}, not acknowledged").format(
                    time=tr.time(target.delivered_at, timezone)
                )
            )
        else:
            lines.append(f"📤 {name} — " + _("being delivered"))
    return "\n".join(lines)


def render_tally(tally: Tally, languages: Sequence[str], timezone: str) -> str:
    return each_language(languages, lambda tr: _tally_block(tr, tally, timezone))


def render_alert_list(tallies: Sequence[Tally], languages: Sequence[str], timezone: str) -> str:
    def block(tr: Translator) -> str:
        _ = tr.gettext
        if not tallies:
            return "📣 " + _("No alert yet.")
        lines = ["📣 <b>" + _("Recent alerts") + "</b>"]
        for tally in tallies:
            alert = tally.alert
            words = version_for(alert.texts, tr.language)
            short = words if len(words) <= 60 else words[:59] + "…"
            lines.append(
                f"#{alert.id} · {tr.datetime(alert.created_at, timezone)} · "
                f"{_(labels.SEVERITY[alert.severity])} · {text(short)} — "
                + _("acknowledged: {done} of {total}").format(
                    done=tally.acknowledged, total=len(tally.targets)
                )
            )
        return "\n".join(lines)

    return each_language(languages, block)
