"""The answers a form takes, and the sentence that says why one is not taken: what a person typing them reads.

The fields' parse functions are shared by the chat dialog and the Slack modal; the dialog engine around them
(skip, back, cancel, edit, the summary) is checked through the document dialog as a référent goes through it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.forms import Answer, Field, FormContext, Invalid, Kind, display, parse
from bot.glossary import DOCUMENT_TYPES, THEMES
from bot.messages import Attachment
from storage.files import FileStore
from tests.chat import say, unique_user
from tests.circuit import Circuit, pdf

TODAY = date(2026, 11, 24)  # the day of tests.db_fixtures.TEST_START


@pytest.fixture
def circuit(app: App) -> Circuit:
    return Circuit(app)


def form_context(tmp_path: Path, max_mb: int = 1) -> FormContext:
    return FormContext(files=FileStore(tmp_path / "files"), max_file_bytes=max_mb * 1024 * 1024, today=TODAY)


def read(kind: Kind, text: str, tmp_path: Path, **field: Any) -> Any:
    return parse(Field("f", "Champ", kind, **field), Answer(text), form_context(tmp_path))


def refusal(kind: Kind, text: str, tmp_path: Path, **field: Any) -> str:
    with pytest.raises(Invalid) as refused:
        read(kind, text, tmp_path, **field)
    return refused.value.message


# --- départements: the exact-name rule --------------------------------------------------------------------------


async def test_savoie_is_savoie_not_ambiguous_with_haute_savoie(app: App) -> None:
    text = await say(app, "!profil departement savoie", user=unique_user())
    assert "Département enregistré." in text and "73 — Savoie" in text
    text = await say(app, "!profil departement haute savoie", user=unique_user())
    assert "74 — Haute-Savoie" in text


async def test_the_directory_lists_loire_before_the_departements_that_hold_its_name(app: App) -> None:
    text = await say(app, "!annuaire loire", user=unique_user())
    assert text.startswith("7 départements correspondent à « loire » : 42 Loire, 37 Indre-et-Loire, 43 Haute-Loire, "
                           "44 Loire-Atlantique, 45 Loiret, 49 Maine-et-Loire, 71 Saône-et-Loire.\n")
    assert "Précisez, par exemple `!annuaire 42`." in text


@pytest.mark.parametrize(
    ("typed", "code"),
    [("savoie", "73"), ("Loire", "42"), ("3", "03"), ("2a", "2A"), ("Côte-d'Or", "21"), ("haute-savoie", "74"),
     ("finis", "29")],
)
def test_a_departement_answer_is_read_as_its_code(typed: str, code: str, tmp_path: Path) -> None:
    assert read(Kind.DEPARTMENT, typed, tmp_path) == code


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("seine", "« seine » désigne plusieurs départements : 76 Seine-Maritime, 77 Seine-et-Marne, "
                  "92 Hauts-de-Seine, 93 Seine-Saint-Denis. Précisez le code."),
        ("haute", "« haute » désigne plusieurs départements : 04 Alpes-de-Haute-Provence, 05 Hautes-Alpes, "
                  "2B Haute-Corse, 31 Haute-Garonne, 43 Haute-Loire, 52 Haute-Marne. Précisez le code."),  # six named
        ("alier", "Département inconnu : « alier ». Vouliez-vous dire Allier (03) ?"),
        ("zzz", "Département inconnu : « zzz ». Donnez son code (ex. 03) ou son nom."),
    ],
)
def test_a_departement_answer_that_names_none_or_several_says_so(typed: str, sentence: str, tmp_path: Path) -> None:
    assert refusal(Kind.DEPARTMENT, typed, tmp_path) == sentence


def test_a_departement_is_shown_with_its_name(tmp_path: Path) -> None:
    assert display(Field("d", "Département", Kind.DEPARTMENT), "73") == "73 — Savoie"


# --- the other kinds of answer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.TEXT, Kind.DATE, Kind.CHOICE, Kind.LIST, Kind.TIME, Kind.END, Kind.YES_NO])
def test_a_blank_answer_is_said_to_be_empty(kind: Kind, tmp_path: Path) -> None:
    assert refusal(kind, "  \t ", tmp_path, choices=THEMES) == "Votre réponse est vide."


def test_a_text_keeps_its_lines_but_not_its_runs_of_spaces(tmp_path: Path) -> None:
    assert read(Kind.TEXT, "  Rapport \t  annuel\n\n2025  ", tmp_path) == "Rapport annuel\n\n2025"


def test_a_text_over_its_limit_says_by_how_much(tmp_path: Path) -> None:
    assert read(Kind.TEXT, "x" * 20, tmp_path, max_length=20) == "x" * 20
    assert refusal(Kind.TEXT, "x" * 21, tmp_path, max_length=20) == (
        "Votre texte fait 21 caractères ; 20 au plus sont permis. Raccourcissez-le et renvoyez-le.")


@pytest.mark.parametrize(
    ("typed", "value"),
    [("3/11/2026", "2026-11-03"), ("03.11.2026", "2026-11-03"), ("03-11-2026", "2026-11-03"),
     ("2026-11-03", "2026-11-03"), ("01/01/1900", "1900-01-01"), ("31/12/2031", "2031-12-31")],
)
def test_a_date_is_read_day_first_or_iso(typed: str, value: str, tmp_path: Path) -> None:
    assert read(Kind.DATE, typed, tmp_path) == value


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("31/02/2025", "Le 31/02/2025 n'existe pas dans le calendrier. Vérifiez le jour et le mois."),
        ("2025-02-31", "Le 2025-02-31 n'existe pas dans le calendrier. Vérifiez le jour et le mois."),
        ("hier", "« hier » n'est pas une date au format JJ/MM/AAAA (ex. 03/11/2026)."),
        ("1/1/99", "« 1/1/99 » n'est pas une date au format JJ/MM/AAAA (ex. 03/11/2026)."),
        ("31/12/1899", "L'année 1899 semble erronée. Vérifiez la date."),
        ("01/01/2032", "L'année 2032 semble erronée. Vérifiez la date."),  # five years after TODAY's at most
    ],
)
def test_a_date_that_cannot_be_taken_says_why(typed: str, sentence: str, tmp_path: Path) -> None:
    assert refusal(Kind.DATE, typed, tmp_path) == sentence


@pytest.mark.parametrize(
    ("typed", "key"),
    [("1", "education"), ("9", "internal_organisation"), ("Éducation", "education"),
     ("santé mentale", "mental_health"), ("digital_uses", "digital_uses"), ("harc", "harassment"),
     ("Autre : médiation   animale", "other:médiation animale"),
     ("autre:soutien  scolaire ", "other:soutien scolaire")],
)
def test_a_choice_is_read_by_number_name_key_or_the_start_of_its_name(typed: str, key: str, tmp_path: Path) -> None:
    assert read(Kind.CHOICE, typed, tmp_path, choices=THEMES) == key


def test_a_precision_after_a_choice_without_autre_is_dropped(tmp_path: Path) -> None:
    assert read(Kind.CHOICE, "Rapports ODPE : 2025", tmp_path, choices=DOCUMENT_TYPES) == "odpe_reports"


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("0", "Il n'y a pas de choix n° 0 : répondez par un numéro de 1 à 10."),
        ("11", "Il n'y a pas de choix n° 11 : répondez par un numéro de 1 à 10."),
        ("violences", "« violences » correspond à plusieurs choix (Violences conjugales, Violences sexuelles) : "
                      "précisez ou donnez le numéro."),
        ("brochure", "« brochure » ne correspond à aucun choix : répondez par un numéro de 1 à 10 ou par le nom."),
        ("none", "« none » ne correspond à aucun choix : répondez par un numéro de 1 à 10 ou par le nom."),
        ("Autre", "Précisez votre réponse après « Autre », par exemple « Autre : médiation animale »."),
        ("Autre :  ", "Précisez votre réponse après « Autre », par exemple « Autre : médiation animale »."),
        ("Autre : " + "x" * 101, "La précision fait 101 caractères ; 100 au plus."),
    ],
)
def test_a_choice_that_cannot_be_taken_says_why(typed: str, sentence: str, tmp_path: Path) -> None:
    assert refusal(Kind.CHOICE, typed, tmp_path, choices=THEMES) == sentence


def test_a_precision_of_100_characters_is_taken(tmp_path: Path) -> None:
    assert read(Kind.CHOICE, "Autre : " + "x" * 100, tmp_path, choices=THEMES) == "other:" + "x" * 100


def test_keywords_are_split_on_commas_semicolons_and_lines(tmp_path: Path) -> None:
    assert read(Kind.LIST, " maltraitance,  schéma   départemental ;indicateurs\nASE,, ", tmp_path) == [
        "maltraitance", "schéma départemental", "indicateurs", "ASE"]
    assert read(Kind.LIST, ",".join(f"mot{n}" for n in range(15)), tmp_path) == [f"mot{n}" for n in range(15)]
    assert read(Kind.LIST, "y" * 60, tmp_path) == ["y" * 60]


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        (" , ; ", "Donnez au moins un mot, séparés par des virgules."),
        (",".join(f"mot{n}" for n in range(16)), "16 éléments, c'est beaucoup : 15 au plus."),
        ("court, " + "y" * 61, "« " + "y" * 61 + " » est trop long pour un mot-clé (60 caractères au plus) : séparez "
                               "par des virgules."),
        ("z" * 90, "« " + "z" * 80 + " » est trop long pour un mot-clé (60 caractères au plus) : séparez par des "
                   "virgules."),
    ],
)
def test_keywords_that_cannot_be_taken_say_why(typed: str, sentence: str, tmp_path: Path) -> None:
    assert refusal(Kind.LIST, typed, tmp_path) == sentence


@pytest.mark.parametrize(
    ("typed", "value"),
    [("journée", "all_day"), ("Toute la journée", "all_day"), ("14h30", "14:30"), ("9h", "09:00"),
     ("14:30", "14:30"), ("14 H 05", "14:05"), ("0h", "00:00"), ("23:59", "23:59")],
)
def test_a_time_is_read_as_hours_and_minutes_or_the_whole_day(typed: str, value: str, tmp_path: Path) -> None:
    assert read(Kind.TIME, typed, tmp_path) == value


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("24h", "« 24h » n'est pas une heure (de 00:00 à 23:59)."),
        ("14h60", "« 14h60 » n'est pas une heure (de 00:00 à 23:59)."),
        ("midi", "« midi » n'est pas une heure : écrivez par exemple 14h30, ou « journée »."),
    ],
)
def test_a_time_that_cannot_be_taken_says_why(typed: str, sentence: str, tmp_path: Path) -> None:
    assert refusal(Kind.TIME, typed, tmp_path) == sentence


@pytest.mark.parametrize(
    ("typed", "value"),
    [("16h30", "until:16:30"), ("16h", "until:16:00"), ("7h", "until:07:00"), ("1h30", "until:01:30"),
     ("6h", "duration:360"), ("2h", "duration:120"), ("2 heures", "duration:120"), ("90 min", "duration:90"),
     ("45", "duration:45"), ("1 min", "duration:1"), ("durée 1h30", "duration:90"), ("Durée 2h", "duration:120"),
     ("duree 16h", "duration:960"), ("durée 24h", "duration:1440")],
)
def test_an_end_is_a_time_or_a_duration(typed: str, value: str, tmp_path: Path) -> None:
    assert read(Kind.END, typed, tmp_path) == value


@pytest.mark.parametrize("typed", ["0 min", "durée 25h", "durée 24h10", "1441", "durée", "demain"])
def test_an_end_that_is_neither_says_what_is_expected(typed: str, tmp_path: Path) -> None:
    assert refusal(Kind.END, typed, tmp_path) == (
        f"« {typed} » : donnez l'heure de fin (ex. 16h30) ou la durée (ex. 2h, 90 min).")


@pytest.mark.parametrize(
    ("typed", "value"),
    [("oui", True), ("O", True), ("J'accepte", True), ("d'accord", True), ("ok", True), ("yes", True),
     ("non", False), ("N", False), ("no", False)],
)
def test_yes_or_no(typed: str, value: bool, tmp_path: Path) -> None:
    assert read(Kind.YES_NO, typed, tmp_path) is value


def test_neither_yes_nor_no_is_asked_again(tmp_path: Path) -> None:
    assert refusal(Kind.YES_NO, "peut-être", tmp_path) == "Répondez par « oui » ou par « non »."


def test_conditions_must_be_accepted(tmp_path: Path) -> None:
    assert read(Kind.CONSENT, "J'accepte", tmp_path) is True
    assert refusal(Kind.CONSENT, "non", tmp_path) == (
        "Pour continuer, répondez « oui » (vous acceptez ces conditions) ou « annuler ».")


def test_a_fields_own_rule_is_applied_to_the_value(tmp_path: Path) -> None:
    def after_2020(value: str) -> None:
        if value < "2020":
            raise Invalid("Une date à partir de 2020.")

    assert read(Kind.DATE, "03/11/2025", tmp_path, check=after_2020) == "2025-11-03"
    assert refusal(Kind.DATE, "03/11/2019", tmp_path, check=after_2020) == "Une date à partir de 2020."


# --- files --------------------------------------------------------------------------------------------------------

ACCEPTED = "Formats acceptés : PDF, ODT, DOCX, ODS, XLSX, CSV, ODP, PPTX."


def attach(tmp_path: Path, attachment: Attachment, max_mb: int = 1) -> Any:
    return parse(Field("file", "Fichier", Kind.FILE), Answer("", (attachment,)), form_context(tmp_path, max_mb))


def test_a_file_is_stored_and_described(tmp_path: Path) -> None:
    document = pdf("guard")
    value = attach(tmp_path, document)
    assert {k: value[k] for k in ("name", "mime", "kind", "size")} == {
        "name": "rapport.pdf", "mime": "application/pdf", "kind": "pdf", "size": len(document.data)}
    assert (tmp_path / "files" / value["path"]).read_bytes() == document.data
    assert display(Field("file", "Fichier", Kind.FILE), value) == f"rapport.pdf ({len(document.data)} o)"


@pytest.mark.parametrize(
    ("attachment", "sentence"),
    [
        (Attachment("vide.pdf", "application/pdf", b""), "Le fichier « vide.pdf » est vide."),
        (Attachment("gros.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 1024 * 1024),
         "Le fichier « gros.pdf » dépasse la taille permise (1 Mo)."),
        (Attachment("outil.pdf", "application/pdf", b"MZ\x90\x00"),
         "Le fichier « outil.pdf » est un programme (exécutable Windows) : il ne peut pas être déposé."),
        (Attachment("photo.pdf", "image/png", b"\x89PNG\r\n\x1a\n0000"),
         "Le fichier « photo.pdf » est de type image PNG, qui n'est pas accepté."),
    ],
)
def test_a_refused_file_says_why_and_what_is_accepted(attachment: Attachment, sentence: str, tmp_path: Path) -> None:
    with pytest.raises(Invalid) as refused:
        attach(tmp_path, attachment)
    assert refused.value.message == f"{sentence} {ACCEPTED}"
    assert [f for f in tmp_path.rglob("*") if f.is_file()] == []  # nothing refused is kept


def test_an_answer_without_a_file_asks_for_one(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as refused:
        parse(Field("file", "Fichier", Kind.FILE), Answer("le voici"), form_context(tmp_path))
    assert refused.value.message == (
        "Envoyez le document en pièce jointe (formats acceptés : PDF, ODT, DOCX, ODS, XLSX, CSV, ODP, PPTX).")


# --- values read back in the summary -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        (Kind.TEXT, None, "(non renseigné)"),
        (Kind.TEXT, "Rapport", "Rapport"),
        (Kind.DATE, "2026-11-03", "03/11/2026"),
        (Kind.CHOICE, "harassment", "Harcèlement"),
        (Kind.CHOICE, "other:médiation animale", "Autre (médiation animale)"),
        (Kind.CHOICE, "retired_key", "retired_key"),
        (Kind.LIST, ["maltraitance", "indicateurs"], "maltraitance, indicateurs"),
        (Kind.DEPARTMENT, "2A", "2A — Corse-du-Sud"),
        (Kind.DEPARTMENT, "99", "99"),
        (Kind.TIME, "all_day", "toute la journée"),
        (Kind.TIME, "09:05", "09 h 05"),
        (Kind.END, "duration:90", "durée 1 h 30"),
        (Kind.END, "duration:5", "durée 0 h 05"),
        (Kind.END, "duration:120", "durée 2 h 00"),
        (Kind.END, "until:16:30", "jusqu'à 16 h 30"),
        (Kind.CONSENT, True, "oui"),
        (Kind.YES_NO, True, "oui"),
        (Kind.YES_NO, False, "non"),
    ],
)
def test_a_value_is_read_back_as_a_person_wrote_it(kind: Kind, value: Any, shown: str) -> None:
    assert display(Field("f", "Champ", kind, choices=THEMES if kind is Kind.CHOICE else None), value) == shown


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 o"), (1023, "1023 o"), (1024, "1 Ko"), (1536, "2 Ko"), (1024 * 1024 - 1, "1024 Ko"),
     (1024 * 1024, "1,0 Mo"), (int(1.55 * 1024 * 1024), "1,5 Mo"), (2149581, "2,1 Mo"), (25 * 1024 * 1024, "25,0 Mo")],
)
def test_a_file_size_is_shown_in_o_ko_or_mo(size: int, shown: str) -> None:
    assert display(Field("file", "Fichier", Kind.FILE), {"name": "r.pdf", "size": size}) == f"r.pdf ({shown})"
