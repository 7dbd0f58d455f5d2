"""Every user-facing string has a Russian translation, with all three Russian plural forms."""

import subprocess
import sys

from babel.messages.pofile import read_po

from tests.conftest import ROOT, TMP


def extracted_catalog():
    pot = TMP / "extracted.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-k", "lazy_gettext", "-k", "_",
         "--no-location", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with open(pot, "rb") as f:
        return read_po(f)


def russian_catalog():
    with open(ROOT / "locale" / "ru" / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale="ru")


def test_every_string_in_code_and_templates_has_a_russian_translation():
    russian = russian_catalog()
    missing = []
    for message in extracted_catalog():
        if not message.id:
            continue
        translated = russian.get(message.id, context=message.context)  # pgettext strings by their context
        if translated is None or translated.fuzzy:
            missing.append(message.id)
            continue
        strings = translated.string if isinstance(translated.string, (tuple, list)) else (translated.string,)
        if not all(strings) or (message.pluralizable and len(strings) != 3):
            missing.append(message.id)
    shown = "\n".join(repr(m if isinstance(m, str) else m[0]) for m in missing[:30])
    assert not missing, f"{len(missing)} strings lack a Russian translation (run `make messages`, then translate):\n{shown}"


def test_russian_catalog_declares_three_plural_forms():
    assert russian_catalog().num_plurals == 3
