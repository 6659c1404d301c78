"""What people type: cleaned and limited before it is stored, and given in several languages
at once (`fr: … | nl: …`)."""

from __future__ import annotations

import re

from bot.core.errors import Term, UserError
from bot.core.i18n import N_
from bot.core.models import LANGUAGES

_TAGGED = re.compile(r"^\s*(en|fr|nl)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)
DEFAULT = ""  # the version for languages not given


def split_languages(raw: str, limit: int, what: str) -> dict[str, str]:
    """`Nuage toxique` → {"": …}; `fr: Nuage toxique | nl: Giftige wolk` → {"fr": …, "nl": …}.

    The first version given is also the default for a language that was not given."""
    parts = [p for p in raw.split("|")]
    tagged = [_TAGGED.match(p) for p in parts]
    if len(parts) > 1 and all(tagged):
        versions: dict[str, str] = {}
        for match in tagged:
            assert match is not None
            language = match.group(1).lower()
            if language in versions:
                raise UserError(N_("The {language} version is given twice."), language=language)
            versions[language] = clean_text(match.group(2), limit, Term(what))
        versions[DEFAULT] = next(iter(versions.values()))
        return versions
    if len(parts) == 1 and tagged[0]:
        match = tagged[0]
        assert match is not None
        text = clean_text(match.group(2), limit, Term(what))
        return {match.group(1).lower(): text, DEFAULT: text}
    return {DEFAULT: clean_text(raw, limit, Term(what))}


def version_for(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts[DEFAULT]


def given_languages(texts: dict[str, str]) -> list[str]:
    return [lang for lang in LANGUAGES if lang in texts]


def in_language(texts: dict[str, str], language: str | None) -> dict[str, str]:
    """An untagged text is in its author's language: `{"": …}` → `{language: …, "": …}`.
    Versions already tagged, or an unknown language, leave the texts as they are."""
    if language is None or language not in LANGUAGES or given_languages(texts):
        return texts
    return {language: texts[DEFAULT], DEFAULT: texts[DEFAULT]}


def clean_text(text: str, limit: int, what: str) -> str:
    """Collapse what a user typed into something storable, or refuse it."""
    cleaned = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable()).strip()
    if not cleaned:
        raise UserError(N_("The {what} is empty."), what=Term(what))
    if len(cleaned) > limit:
        raise UserError(N_("That is too long: at most {limit} characters."), limit=limit)
    return cleaned
