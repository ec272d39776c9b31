"""The translation catalogues: complete, compiled, and holding every text the code marks."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "marketmsg"
LOCALE = PACKAGE / "locale"
# {% translate "…" %} in templates and _("…") in Python: the simple forms, which most texts use.
TEMPLATE_TEXT = re.compile(r"""\{%\s*translate\s+"([^"]+)"\s*%\}|\{%\s*translate\s+'([^']+)'\s*%\}""")
PYTHON_TEXT = re.compile(r"""\b_\(\s*"([^"\\]+)"\s*\)""")


def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def marked_texts() -> set[str]:
    found: set[str] = set()
    for template in PACKAGE.rglob("templates/**/*.html"):
        for match in TEMPLATE_TEXT.finditer(template.read_text()):
            found.add(match.group(1) or match.group(2))
    for module in PACKAGE.rglob("*.py"):
        if "migrations" not in module.parts:
            found.update(PYTHON_TEXT.findall(module.read_text()))
    return found


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_marked_text_is_in_the_catalogue(language: str):
    known = {entry.msgid for entry in catalogue(language)}
    missing = marked_texts() - known
    assert not missing, f"run `make messages`; not in the {language} catalogue: {sorted(missing)[:5]}"


def test_japanese_is_complete_and_english_spells_out_every_text():
    for entry in catalogue("ja"):
        assert entry.translated() and "fuzzy" not in entry.flags, entry.msgid
    for entry in catalogue("en"):
        if entry.msgid_plural:
            assert entry.msgstr_plural == {0: entry.msgid, 1: entry.msgid_plural}
        else:
            assert entry.msgstr == entry.msgid  # an empty one would fall back to Japanese


@pytest.mark.parametrize("language", ["ja", "en"])
def test_compiled_catalogue_matches_the_source(language: str):
    source = {(e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural)) for e in catalogue(language) if e.msgid}
    compiled_file = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))
    compiled = {(e.msgctxt, e.msgid): (e.msgstr, dict(e.msgstr_plural)) for e in compiled_file if e.msgid}
    assert compiled == source, "run `make messages` (or `python tools/catalogues.py --compile-only`)"


# One Japanese word for each thing; the other spellings people might reach for are refused.
ONE_TERM = {"中継アドレス": "リレーアドレス", "差出人": "送信者", "セラー": "出品者", "応答不要": "返信不要"}


def test_one_japanese_term_for_each_thing():
    where: list[str] = []
    for entry in catalogue("ja"):
        for text in [entry.msgstr, *entry.msgstr_plural.values()]:
            where += [
                f"catalogue: {entry.msgid[:50]!r} says {bad} (use {good})"
                for bad, good in ONE_TERM.items()
                if bad in text
            ]
    for path in [*PACKAGE.rglob("templates/**/*.html"), *PACKAGE.rglob("*.py")]:
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        where += [
            f"{path.relative_to(PACKAGE)} says {bad} (use {good})"
            for bad, good in ONE_TERM.items()
            if bad in text
        ]
    assert not where, "\n".join(where)
