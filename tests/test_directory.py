"""The directory: any département found by code, name or region; admins edit contacts in chat or by CSV."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import App
from bot.messages import Tone
from integrations.cli import main
from storage.repositories import Repos
from tests.chat import replies, say, unique_user


@pytest.mark.parametrize("query", ["allier", "03", "3", "ALLIER", "Allier"])
async def test_allier_contact_is_found_by_code_or_name(app: App, query: str) -> None:
    text = await say(app, f"!annuaire {query}", user=unique_user())
    assert "03 — Allier (Auvergne-Rhône-Alpes)" in text
    assert "Mme Blandine AATAR" in text and "aatar.b@allier.fr" in text and "04 70 34 15 30" in text


async def test_accents_and_case_are_ignored(app: App) -> None:
    text = await say(app, "!annuaire Côtes", user=unique_user())
    assert "22 — Côtes-d'Armor (Bretagne)" in text
    assert "22 — Côtes-d'Armor" in await say(app, "!annuaire cotes d'armor", user=unique_user())
    assert "Aucun contact ODPE n'est encore enregistré pour ce département." in text


async def test_a_region_lists_its_departements(app: App) -> None:
    text = await say(app, "!annuaire bretagne", user=unique_user())
    for heading in ("22 — Côtes-d'Armor", "29 — Finistère", "35 — Ille-et-Vilaine", "56 — Morbihan"):
        assert heading in text


async def test_many_matches_are_listed_to_narrow_down(app: App) -> None:
    text = await say(app, "!annuaire haute", user=unique_user())
    assert "départements correspondent à « haute » : " in text
    assert "2B Haute-Corse" in text and "74 Haute-Savoie" in text
    assert "Précisez, par exemple `!annuaire 04`." in text


async def test_a_typo_gets_a_suggestion(app: App) -> None:
    [reply] = await replies(app, "!annuaire alier", user=unique_user())
    assert reply.tone is Tone.ERROR
    assert reply.plain() == "Aucun département ne correspond à « alier ».\nVouliez-vous dire : Allier (03) ?"


async def test_admin_edits_a_contact_and_it_is_audited(app: App) -> None:
    text = await say(app, '!annuaire modifier 15 nom="M. Jean Cantal" email=J.Cantal@Cantal.FR telephone=0471000000',
                     user="admin")
    assert text.startswith("Contact mis à jour.")
    assert "M. Jean Cantal" in text and "j.cantal@cantal.fr" in text.lower() and "04 71 00 00 00" in text
    assert "M. Jean Cantal" in await say(app, "!annuaire cantal", user=unique_user())
    async with app.db.session() as session:
        [entry] = await Repos(session).audit.for_subject("annuaire:15")
    assert entry.action == "directory.update" and entry.detail["name"] == "M. Jean Cantal"


async def test_admin_adds_and_removes_a_second_contact(app: App) -> None:
    await say(app, "!annuaire modifier 16 nom=Premier", user="admin")
    text = await say(app, '!annuaire ajouter 16 nom="Second Contact" fonction=statisticien', user="admin")
    assert "Contact n° 2" in text and "Second Contact" in text
    text = await say(app, "!annuaire retirer 16 2", user="admin")
    assert text.startswith("Contact retiré.") and "Second Contact" not in text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("!annuaire modifier 17 email=jean.dupont@", "« jean.dupont@ » n'est pas une adresse électronique valide."),
        ("!annuaire modifier 17 telephone=abc", "« abc » n'est pas un numéro de téléphone valide"),
        ("!annuaire modifier 17 couleur=bleu", "« couleur=bleu » n'est pas de la forme champ=valeur."),
        ("!annuaire modifier 99 nom=X", "« 99 » n'est pas un code de département"),
        ("!annuaire ajouter 17 email=a@b.fr", "Le nom du contact est obligatoire"),
        ("!annuaire retirer 17 9", "Il n'y a pas de contact n° 9 pour Charente-Maritime."),
    ],
)
async def test_bad_edits_get_a_clear_message_and_change_nothing(app: App, command: str, expected: str) -> None:
    before = await say(app, "!annuaire 17", user=unique_user())
    [reply] = await replies(app, command, user="admin")
    assert reply.tone is Tone.ERROR
    assert expected in reply.plain()
    assert "`!annuaire <departement…>`" in reply.plain()  # the help line comes with it
    assert await say(app, "!annuaire 17", user=unique_user()) == before


async def test_user_text_is_escaped_in_the_html_card(app: App) -> None:
    await say(app, '!annuaire modifier 18 nom="<img src=x onerror=alert(1)>"', user="admin")
    [reply] = await replies(app, "!annuaire 18", user=unique_user())
    assert "<img" not in reply.html() and "&lt;img src=x onerror=alert(1)&gt;" in reply.html()


async def test_csv_import_loads_every_row(app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_bytes(
        "\ufeffDépartement;Nom;Fonction;Email;Téléphone\n"
        "Aube;Mme Claire Aube;animatrice;claire@aube.fr;03 25 00 00 00\n"
        "11;M. Paul Aude;chargé d'études;paul@aude.fr;0468000000\n".encode()
    )
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"database: {{url: '{app.config.database.url}'}}\n", encoding="utf-8")
    assert await asyncio.to_thread(main, ["annuaire", "import", str(csv_file), "-c", str(config_file)]) == 0
    assert "2 contact(s) importé(s) pour 2 département(s) : 10, 11." in capsys.readouterr().out
    assert "Mme Claire Aube" in await say(app, "!annuaire aube", user=unique_user())
    assert "04 68 00 00 00" in await say(app, "!annuaire 11", user=unique_user())


async def test_csv_import_with_errors_imports_nothing(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "departement,nom,email\n12,Mme Aveyron,ok@aveyron.fr\nAlier,M. X,x@x.fr\n13,,pas-un-email\n", encoding="utf-8"
    )
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"database: {{url: '{app.config.database.url}'}}\n", encoding="utf-8")
    assert await asyncio.to_thread(main, ["annuaire", "import", str(csv_file), "-c", str(config_file)]) == 1
    err = capsys.readouterr().err
    assert "rien n'a été importé" in err
    assert "ligne 3" in err and "Allier" in err and "ligne 4" in err
    assert await say(app, "!annuaire 12", user=unique_user()) == (
        "12 — Aveyron (Occitanie)\nAucun contact ODPE n'est encore enregistré pour ce département."
    )


@pytest.mark.parametrize("user", ["marie", "onpe"])
@pytest.mark.parametrize(
    "command", ["!annuaire modifier 15 nom=X", "!annuaire ajouter 15 nom=X", "!annuaire retirer 03 1"]
)
async def test_only_admins_edit_the_directory(app: App, user: str, command: str) -> None:
    before = await say(app, "!annuaire 15", user=unique_user()), await say(app, "!annuaire 03", user=unique_user())
    [reply] = await replies(app, command, user=user)
    assert reply.tone is Tone.ERROR
    assert reply.plain().split("\n")[0] == "Cette action de !annuaire est réservée aux administrateurs du bot."
    after = await say(app, "!annuaire 15", user=unique_user()), await say(app, "!annuaire 03", user=unique_user())
    assert after == before
