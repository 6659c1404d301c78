"""Keeping the gettext catalogs in step with the code.

    python -m bot.catalogs update   extract messages.pot, update en/fr/nl .po files
    python -m bot.catalogs check    fail if the template is stale or a translation is missing

English is the source language: its catalog repeats each msgid, so every message exists
in all three languages.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
TEMPLATE = LOCALES / "messages.pot"
LANGUAGES = ("en", "fr", "nl")
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


def extract() -> Catalog:
    """A fresh template from the sources."""
    with (LOCALES / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    catalog = Catalog(
        project="Passerelle",
        version="0.1",
        copyright_holder="Passerelle",
        msgid_bugs_address="",
        charset="utf-8",
        fuzzy=False,
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _po_bytes(catalog: Catalog, **options: bool) -> bytes:
    out = BytesIO()
    write_po(out, catalog, omit_header=False, sort_output=True, width=100, **options)
    return out.getvalue()


def _ids(catalog: Catalog) -> set[str]:
    return {_key(m.id) for m in catalog if m.id}


def _key(msgid: object) -> str:
    """A singular msgid, or a plural's singular part: how catalogs index messages."""
    return str(msgid[0]) if isinstance(msgid, (tuple, list)) else str(msgid)


def _po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "messages.po"


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def update() -> None:
    template = extract()
    TEMPLATE.write_bytes(_po_bytes(template, no_location=True))
    for language in LANGUAGES:
        path = _po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = (
            _read(path, language)
            if path.exists()
            else Catalog(
                locale=language,
                project="Passerelle",
                version="0.1",
                copyright_holder="Passerelle",
                fuzzy=False,
            )
        )
        # update() adopts the template's Message objects: give each language its own copy
        catalog.update(_read(TEMPLATE), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == "en":
            for message in catalog:
                if message.id and not _translated(message):
                    message.string = message.id
        path.write_bytes(_po_bytes(catalog, no_location=True))


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and not message.fuzzy


def _placeholders(text: object) -> set[str]:
    parts = [str(p) for p in text] if isinstance(text, (tuple, list)) else [str(text or "")]
    return {name for part in parts for name in _PLACEHOLDER.findall(part)}


def problems() -> Iterator[str]:
    template = extract()
    if not TEMPLATE.exists():
        yield f"{TEMPLATE}: missing; run python -m bot.catalogs update"
        return
    stored = _read(TEMPLATE)
    for msgid in sorted(_ids(template) - _ids(stored)):
        yield f"{TEMPLATE}: stale, lacks {msgid!r}; run python -m bot.catalogs update"
    for msgid in sorted(_ids(stored) - _ids(template)):
        yield f"{TEMPLATE}: stale, still has {msgid!r}; run python -m bot.catalogs update"
    for language in LANGUAGES:
        path = _po_path(language)
        if not path.exists():
            yield f"{path}: missing"
            continue
        catalog = _read(path, language)
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id)
            if found is None:
                yield f"{path}: lacks {message.id!r}"
            elif not _translated(found):
                yield f"{path}: no translation for {message.id!r}"
            elif _placeholders(found.string) != _placeholders(message.id):
                yield f"{path}: placeholders differ in {message.id!r}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        found = list(problems())
        for line in found:
            print(line)
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
