"""Refresh and compile the translation catalogues (``make messages``).

1. Django's makemessages collects every string marked for translation into
   ``src/marketmsg/locale/{ja,en}/LC_MESSAGES/django.po`` (it needs GNU gettext's xgettext;
   CI and production do not, because the compiled .mo files are committed).
2. English is the source language, so its catalogue repeats each text. It must: Django falls back to
   the default language (Japanese) for any text the English catalogue leaves empty.
3. Japanese entries are translated by hand in the .po file; this lists those still empty or fuzzy
   and fails, so that nothing untranslated lands.
4. Both catalogues are compiled to .mo with polib (no msgfmt needed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polib

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "marketmsg"
LOCALE = PACKAGE / "locale"


def collect() -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "ja",
            "-l",
            "en",
            "--no-location",
            "--no-obsolete",
            "-i",
            "*/migrations/*",
            "--settings",
            "marketmsg.settings",
        ],
        cwd=PACKAGE,
        check=True,
    )


def fill_english() -> None:
    catalogue = polib.pofile(str(LOCALE / "en" / "LC_MESSAGES" / "django.po"))
    catalogue.metadata.update({"Language": "en", "Plural-Forms": "nplurals=2; plural=(n != 1);"})
    for entry in catalogue:
        if entry.msgid_plural:
            entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
        else:
            entry.msgstr = entry.msgid
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    catalogue.save()


def untranslated_japanese() -> list[str]:
    catalogue = polib.pofile(str(LOCALE / "ja" / "LC_MESSAGES" / "django.po"))
    catalogue.metadata.update({"Language": "ja", "Plural-Forms": "nplurals=1; plural=0;"})
    catalogue.save()
    return [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]


def compile_all() -> None:
    for po in LOCALE.glob("*/LC_MESSAGES/django.po"):
        polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))


def main() -> int:
    if "--compile-only" not in sys.argv:
        collect()
    fill_english()
    missing = untranslated_japanese()
    compile_all()
    if missing:
        print(f"{len(missing)} Japanese text(s) need a translation in locale/ja/LC_MESSAGES/django.po:")
        for text in missing:
            print(f"  - {text}")
        return 1
    print("Catalogues are complete and compiled.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
