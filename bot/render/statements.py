"""Statements: the draft the spokesperson reviews, the published text, the notice back."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.i18n import Translator, each_language, translator
from bot.core.models import Statement
from bot.core.text import DEFAULT, version_for
from bot.render import common
from bot.render.common import text


def _versions(tr: Translator, statement: Statement) -> list[str]:
    """Every language version given, labelled, for the spokesperson to check them all."""
    given = [(lang, words) for lang, words in statement.texts.items() if lang != DEFAULT]
    if not given:
        return [text(statement.texts[DEFAULT])]
    return [f"<b>{lang.upper()}</b>: {text(words)}" for lang, words in given]


def render_draft(statement: Statement, language: str) -> str:
    tr = translator(language)
    _ = tr.gettext
    incident = statement.incident
    lines = []
    if incident.exercise:
        lines.append(common.exercise_banner(tr))
    lines.append(
        "📝 <b>" + _("Draft statement #{id} for the media").format(id=statement.id) + "</b>"
    )
    lines.append(
        _("Incident: {incident}").format(incident=f"#{incident.ref} {text(incident.title)}")
    )
    lines.append(_("Proposed by {name}.").format(name=text(statement.author.name)))
    lines.append("")
    lines.extend(_versions(tr, statement))
    lines.append("")
    lines.append("<i>" + _("Nothing reaches the media until you approve it.") + "</i>")
    return "\n".join(lines)


def _statement_block(tr: Translator, statement: Statement, timezone: str) -> str:
    _ = tr.gettext
    incident = statement.incident
    lines = []
    if incident.exercise:
        lines.append(common.exercise_banner(tr))
    lines.append("📰 <b>" + _("Media statement") + "</b> — " + text(incident.title))
    lines.append(text(version_for(statement.texts, tr.language)))
    if statement.decided_by and statement.decided_at:
        lines.append(
            "<i>"
            + _("Spokesperson: {name}, {time}").format(
                name=text(statement.decided_by.name),
                time=tr.datetime(statement.decided_at, timezone),
            )
            + "</i>"
        )
    return "\n".join(lines)


def render_statement(statement: Statement, languages: Sequence[str], timezone: str) -> str:
    return each_language(languages, lambda tr: _statement_block(tr, statement, timezone))


def render_decision_notice(statement: Statement, languages: Sequence[str], timezone: str) -> str:
    def block(tr: Translator) -> str:
        _ = tr.gettext
        name = text(statement.decided_by.name) if statement.decided_by else "—"
        if statement.status == "published":
            return "📰 " + _(
                "Statement #{id} on #{ref} was approved by {name} and published to the media."
            ).format(id=statement.id, ref=statement.incident.ref, name=name)
        return "✖️ " + _(
            "Statement #{id} on #{ref} was rejected by {name}; nothing was published."
        ).format(id=statement.id, ref=statement.incident.ref, name=name)

    return each_language(languages, block)
