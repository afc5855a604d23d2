"""The profile: département and language, remembered across messages."""

from __future__ import annotations

from bot.app import App
from bot.messages import RoomKind
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
    assert "Département : non renseigné" in await say(app, "!profil departement -", user=user)


async def test_unknown_departement_gets_a_suggestion(app: App) -> None:
    text = await say(app, "!profil departement girnde", user=unique_user())
    assert text.startswith("Département inconnu : « girnde ». Vouliez-vous dire Gironde (33) ?")


async def test_an_exact_name_wins_over_the_names_it_begins(app: App) -> None:
    # « Savoie » is Savoie (73), though Haute-Savoie (74) has the word too: no choice to make.
    user = unique_user()
    text = await say(app, "!profil departement savoie", user=user)
    assert text == (f"Département enregistré.\n  Nom : {user}\n  Identifiant : @{user}:console\n"
                    "  Département : 73 — Savoie\n  Langue : français\n  Rôles : référent")
    assert "Département : 42 — Loire\n" in await say(app, "!profil departement loire", user=user)


async def test_ambiguous_departement_asks_for_the_code(app: App) -> None:
    user = unique_user()
    text = await say(app, "!profil departement seine", user=user)
    assert text.split("\n")[0] == ("« seine » désigne plusieurs départements : 76 Seine-Maritime, 77 Seine-et-Marne, "
                                   "92 Hauts-de-Seine, 93 Seine-Saint-Denis. Précisez le code.")
    assert "Département : non renseigné" in await say(app, "!profil", user=user)  # nothing chosen for them


async def test_unknown_language_and_setting_are_explained(app: App) -> None:
    user = unique_user()
    assert "Langue inconnue : « de ». Choisissez fr ou en." in await say(app, "!profil langue de", user=user)
    assert "Réglage inconnu : « couleur »" in await say(app, "!profil couleur bleu", user=user)
    assert "Indiquez la nouvelle valeur" in await say(app, "!profil langue", user=user)


async def test_roles_show_in_the_profile(app: App) -> None:
    assert (await say(app, "!profil", user="admin")).endswith("\n  Rôles : administrateur")
    assert (await say(app, "!profil", user="onpe")).endswith("\n  Rôles : relecteur ONPE")
    # Rights come from roles, never from the room one speaks in.
    in_review_room = await say(app, "!profil", user="paul", room=RoomKind.REVIEW)
    assert in_review_room.endswith("\n  Rôles : référent")
