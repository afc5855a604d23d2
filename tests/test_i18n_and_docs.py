"""Translations complete in English, and the README's command reference in step with the registry."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

import commands
from bot.docs import END, START, reference
from bot.i18n import language, translations

SAME_IN_ENGLISH = {"Contact", "Département"}  # "département" is kept as the French institution's name
ROOT = Path(__file__).resolve().parent.parent


def source_messages() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "commands", "integrations", "calendars"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords={"_": None}
        ):
            found.add(message)
    return found


def test_every_message_has_an_english_translation() -> None:
    catalog = translations("en")
    missing = sorted(m for m in source_messages() if catalog.gettext(m) == m and m not in SAME_IN_ENGLISH)
    assert missing == []


def test_english_keeps_the_placeholders_of_french() -> None:
    import re

    catalog = translations("en")
    for message in source_messages():
        assert set(re.findall(r"\{\w+\}", catalog.gettext(message))) == set(re.findall(r"\{\w+\}", message)), message


def test_help_text_follows_the_readers_language() -> None:
    registry = commands.load()
    help_command = registry.find("aide")
    assert help_command is not None
    with language("fr"):
        assert str(help_command.help) == "Liste les commandes, ou explique l'une d'elles."
    with language("en"):
        assert str(help_command.help) == "Lists the commands, or explains one of them."


def test_readme_command_reference_matches_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert section == reference(commands.load()), "run: python -m bot.docs --write README.md"
