"""/start and /help texts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.core import vocabulary as labels
from bot.core.i18n import N_, Translator, each_language
from bot.core.models import Role
from bot.render.common import text


@dataclass(frozen=True)
class HelpLine:
    """One command as /help shows it: its name in each language (English where no other
    word is given) and what it does (a msgid)."""

    name: str
    description: str
    names: Mapping[str, str] = field(default_factory=dict)

    def name_in(self, language: str) -> str:
        return self.names.get(language, self.name)


def _help_block(
    tr: Translator, name: str, roles: Sequence[Role], commands: Sequence[HelpLine]
) -> str:
    _ = tr.gettext
    role_names = tr.join(_(labels.ROLE[r]) for r in roles)
    lines = [
        "🌉 <b>Passerelle</b> — "
        + _("one place for French and Belgian emergency services working the same incident."),
        _("Hello {name}. Your roles: {roles}.").format(name=text(name), roles=role_names),
        "",
        "<b>" + _("What you can do") + "</b>",
    ]
    lines.extend(f"/{line.name_in(tr.language)} — {text(_(line.description))}" for line in commands)
    lines.append("")
    lines.append(
        _(
            "Reply to an incident card to add to its timeline; share a location as a "
            "reply to set where it is."
        )
    )
    return "\n".join(lines)


def render_help(
    languages: Sequence[str], name: str, roles: Sequence[Role], commands: Sequence[HelpLine]
) -> str:
    return each_language(languages, lambda tr: _help_block(tr, name, roles, commands))


LANGUAGE_NAMES = {"en": N_("English"), "fr": N_("French"), "nl": N_("Dutch")}
