"""The catalogs are part of the product: a stale template or a missing translation fails."""

from __future__ import annotations

from bot import catalogs
from bot.core.i18n import translator


def test_template_is_current_and_every_message_is_translated() -> None:
    problems = list(catalogs.problems())
    assert problems == [], "\n".join(problems[:20])


def test_catalogs_really_translate() -> None:
    # a few words a responder reads on every card
    assert translator("fr").gettext("Timeline") not in ("", "Timeline")
    assert translator("nl").gettext("Timeline") not in ("", "Timeline")
    assert translator("fr").gettext("severe") != translator("nl").gettext("severe")
    assert translator("en").gettext("severe") == "severe"


def test_plural_forms_follow_each_language() -> None:
    fr, nl = translator("fr"), translator("nl")
    one_fr = fr.ngettext("{n} open incident", "{n} open incidents", 1)
    two_fr = fr.ngettext("{n} open incident", "{n} open incidents", 2)
    assert one_fr != two_fr
    # French counts zero as singular, Dutch as plural
    assert fr.ngettext("{n} open incident", "{n} open incidents", 0) == one_fr
    assert nl.ngettext("{n} open incident", "{n} open incidents", 0) == nl.ngettext(
        "{n} open incident", "{n} open incidents", 2
    )
