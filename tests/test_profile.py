"""The profile: département and language, remembered across messages."""

from __future__ import annotations

from bot.app import App
from tests.chat import say, unique_user


async def test_profile_shows_what_the_bot_knows(app: App) -> None:
    user = unique_user()
    text = await say(app, "!profil", user=user)
    assert "Votre profil" in text and f"@{user}:console" in text and "Département : non renseigné" in text


async def test_departement_by_code_or_name_is_remembered(app: App) -> None:
    user = unique_user()
    assert "03 — Allier" in await say(app, "!profil departement allier", user=user)
    assert "Département : 03 — Allier" in await say(app, "!profil", user=user)
    assert "2A — Corse-du-Sud" in await say(app, "!profil departement 2a", user=user)
    assert "non renseigné" in await say(app, "!profil departement -", user=user)


async def test_unknown_departement_gets_a_suggestion(app: App) -> None:
    text = await say(app, "!profil departement girnde", user=unique_user())
    assert text.startswith("Département inconnu : « girnde ». Vouliez-vous dire Gironde (33) ?")


async def test_ambiguous_departement_asks_for_the_code(app: App) -> None:
    text = await say(app, "!profil departement savoie", user=unique_user())
    assert "73" in text  # the exact name wins
    text = await say(app, "!profil departement seine", user=unique_user())
    assert "désigne plusieurs départements" in text


async def test_unknown_language_and_setting_are_explained(app: App) -> None:
    user = unique_user()
    assert "Langue inconnue : « de ». Choisissez fr ou en." in await say(app, "!profil langue de", user=user)
    assert "Réglage inconnu : « couleur »" in await say(app, "!profil couleur bleu", user=user)
    assert "Indiquez la nouvelle valeur" in await say(app, "!profil langue", user=user)


async def test_roles_show_in_the_profile(app: App) -> None:
    assert "administrateur" in await say(app, "!profil", user="admin")
    assert "relecteur ONPE" in await say(app, "!profil", user="onpe")
