"""What the bot says about the situation board in Telegram: the answer to the deep link that
opens an incident's board, and a personal link for a command post's screen (pure)."""

from __future__ import annotations

from datetime import datetime

from bot.core.i18n import translator
from bot.core.models import Incident
from bot.render.card import incident_heading
from bot.render.common import text


def render_board_invite(language: str, incident: Incident) -> str:
    """The answer to `/start board_<ref>`: the incident named, the button below opens it."""
    tr = translator(language)
    return f"🗺 {incident_heading(tr, incident)}\n" + tr.gettext(
        "The situation board of this incident, live: open it with the button below."
    )


def render_board_elsewhere(language: str, incident: Incident, url: str) -> str:
    """The same where the board is served on plain http (a local test): Telegram opens only
    https pages, so the address is given with the way to open it in a browser."""
    tr = translator(language)
    return f"🗺 {incident_heading(tr, incident)}\n" + tr.gettext(
        "Telegram opens the board only from an https:// address; this Passerelle serves it "
        "at {url}. /board gives you a personal link to open it in a browser."
    ).format(url=f"<code>{text(url)}</code>")


def render_personal_link(language: str, url: str, expires: datetime, timezone: str) -> str:
    """The answer to `/board`: a link for a command post's screen, until when it works, and
    how to end it."""
    tr = translator(language)
    lines = [
        "🗺 <b>" + tr.gettext("Your personal link to the situation board") + "</b>",
        f"<code>{text(url)}</code>",
        tr.gettext(
            "Open it on the command post's screen: it shows what you may see, live, until {until}."
        ).format(until=tr.datetime(expires, timezone)),
        tr.gettext(
            "Whoever has this link sees what you see: do not forward it. "
            "/board revoke ends all your links."
        ),
    ]
    return "\n".join(lines)


def render_revoked(language: str, count: int) -> str:
    tr = translator(language)
    if count == 0:
        return tr.gettext("You had no personal link to the board in force: nothing to revoke.")
    return tr.ngettext(
        "✅ {count} personal link to the board revoked: it opens nothing any more.",
        "✅ {count} personal links to the board revoked: they open nothing any more.",
        count,
    ).format(count=count)
