"""The dialog engine as a référent goes through the document form: each question, skipping, going back, leaving,
the summary and its edits, a second dialog refused, an idle one expiring, an answer delivered twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from tests.chat import message
from tests.circuit import Circuit, pdf

CONTROLS = "(« retour » pour revenir en arrière ; « annuler » pour abandonner)"
TYPES = ("Étape 1/10 — Type de document\n"
         "  • 1. Données statistiques\n  • 2. Études et recherches\n  • 3. Guides méthodologiques\n"
         "  • 4. Rapports ODPE\n  • 5. Fiches de dispositifs innovants\n"
         "  • 6. Documents administratifs et constitutifs\n"
         "Répondez par le numéro ou le nom.\n" + CONTROLS)
TITLE = "Étape 2/10 — Titre du document\n200 caractères au plus.\n"
SUMMARY_END = "Répondez `oui` pour envoyer, `modifier N` pour changer un champ, `annuler` pour abandonner."
UP_TO_THE_FILE = ("4", "Rapport annuel", "03/11/2025", "Service ODPE", "maltraitance, indicateurs", "Données ASE",
                  "mixte", "savoie")


@pytest.fixture
def circuit(app: App) -> Circuit:
    app.clock.freeze()
    return Circuit(app)


async def at_the_summary(circuit: Circuit) -> str:
    await circuit.say("!soumettre")
    for answer in UP_TO_THE_FILE:
        await circuit.say(answer)
    await circuit.say("", attachments=(pdf("dialogs"),))
    return await circuit.text("-")


def summary(title: str = "Rapport annuel", summary: str = "(non renseigné)") -> str:
    return ("Récapitulatif — Soumettre un document à l'ONPE\n"
            "  1. Type de document : Rapports ODPE\n"
            f"  2. Titre du document : {title}\n"
            "  3. Date du document : 03/11/2025\n"
            "  4. Auteur : Service ODPE\n"
            "  5. Mots-clés : maltraitance, indicateurs\n"
            "  6. Sources : Données ASE\n"
            "  7. Nature des données analysées : Mixte (quantitative et qualitative)\n"
            "  8. Département : 73 — Savoie\n"
            "  9. Fichier : rapport.pdf (63 o)\n"
            f"  10. Résumé : {summary}\n" + SUMMARY_END)


async def test_the_first_question_comes_after_the_forms_introduction(circuit: Circuit) -> None:
    assert await circuit.text("!soumettre") == (
        "Soumettre un document à l'ONPE\nJe vais vous poser quelques questions pour qualifier votre document "
        "(circuit de transmission de l'ONPE). Chaque réponse est gardée : vous pouvez vous interrompre et reprendre "
        "plus tard.\n" + TYPES)


async def test_each_question_says_its_step_its_help_and_its_limit(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    assert await circuit.text("4") == TITLE + CONTROLS
    assert await circuit.text("Rapport annuel") == (
        "Étape 3/10 — Date du document\nAu format JJ/MM/AAAA, ex. 03/11/2026.\n" + CONTROLS)


async def test_a_required_field_cannot_be_skipped_and_an_optional_one_can(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    assert await circuit.text("-") == "Ce champ est obligatoire : il ne peut pas être passé.\n" + TYPES
    for answer in UP_TO_THE_FILE:
        await circuit.say(answer)
    assert await circuit.text("", attachments=(pdf("dialogs"),)) == (
        "Étape 10/10 — Résumé\nQuelques lignes pour présenter le document (facultatif).\n1500 caractères au plus.\n"
        "(« - » pour passer (facultatif) ; « retour » pour revenir en arrière ; « annuler » pour abandonner)")
    assert await circuit.text("-") == summary()


async def test_a_wrong_answer_gets_its_reason_and_the_same_question(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    await circuit.say("4")
    await circuit.say("Rapport annuel")
    assert await circuit.text("hier") == (
        "« hier » n'est pas une date au format JJ/MM/AAAA (ex. 03/11/2026).\n"
        "Étape 3/10 — Date du document\nAu format JJ/MM/AAAA, ex. 03/11/2026.\n" + CONTROLS)


@pytest.mark.parametrize("word", ["retour", "Précédent", "back", "!retour"])
async def test_back_shows_the_previous_question_with_its_answer(circuit: Circuit, word: str) -> None:
    await circuit.say("!soumettre")
    await circuit.say("4")
    await circuit.say("Rapport   annuel")
    assert await circuit.text(word) == (
        TITLE + "(réponse actuelle : Rapport annuel ; « retour » pour revenir en arrière ; « annuler » pour "
                "abandonner)")
    assert await circuit.text(word) == TYPES.replace("(« retour »", "(réponse actuelle : Rapports ODPE ; « retour »")
    assert await circuit.text(word) == TYPES.replace("(« retour »", "(réponse actuelle : Rapports ODPE ; « retour »")


async def test_back_from_the_summary_shows_the_last_question(circuit: Circuit) -> None:
    await at_the_summary(circuit)
    assert (await circuit.text("retour")).startswith("Étape 10/10 — Résumé\n")
    assert await circuit.text("Un rapport sur l'année 2025.") == summary(summary="Un rapport sur l'année 2025.")


@pytest.mark.parametrize("word", ["annuler", "Stop", "cancel", "abandonner", "!annuler"])
async def test_leaving_a_dialog_sends_nothing(circuit: Circuit, word: str) -> None:
    await at_the_summary(circuit)
    assert await circuit.text(word) == "« Soumettre un document à l'ONPE » abandonné : rien n'a été envoyé."
    assert await circuit.text("!annuler") == "Aucun dialogue en cours : rien à annuler."
    assert await circuit.text("!retour") == "Aucun dialogue en cours."
    assert circuit.sent == []


async def test_a_file_sent_with_the_word_annuler_is_a_file(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    for answer in UP_TO_THE_FILE:
        await circuit.say(answer)
    assert (await circuit.text("annuler", attachments=(pdf("dialogs"),))).startswith("Étape 10/10 — Résumé")


async def test_the_summary_lists_every_answer_and_oui_sends_it(circuit: Circuit) -> None:
    assert await at_the_summary(circuit) == summary()
    assert "Merci ! Votre document est enregistré sous D-1." in await circuit.text("oui")
    assert await circuit.text("!annuler") == "Aucun dialogue en cours : rien à annuler."


@pytest.mark.parametrize("edit", ["modifier 2", "Modifier titre", "edit 2", "changer titre du"])
async def test_an_edited_field_goes_back_to_the_summary(circuit: Circuit, edit: str) -> None:
    await at_the_summary(circuit)
    assert await circuit.text(edit) == (
        TITLE + "(réponse actuelle : Rapport annuel ; « retour » pour revenir en arrière ; « annuler » pour "
                "abandonner)")
    assert await circuit.text("Rapport 2025") == summary(title="Rapport 2025")


@pytest.mark.parametrize("edit", ["modifier", "modifier 0", "modifier 11", "modifier couleur"])
async def test_an_edit_that_names_no_field_asks_for_its_number(circuit: Circuit, edit: str) -> None:
    await at_the_summary(circuit)
    assert await circuit.text(edit) == (
        "Indiquez le numéro du champ à modifier, de 1 à 10 (ex. « modifier 2 »).\n" + summary())


async def test_edit_10_is_the_last_field(circuit: Circuit) -> None:
    await at_the_summary(circuit)
    assert (await circuit.text("modifier 10")).startswith("Étape 10/10 — Résumé\n")
    assert await circuit.text("-") == summary()
    assert (await circuit.text("modifier 1")) == TYPES.replace(
        "(« retour »", "(réponse actuelle : Rapports ODPE ; « retour »")


async def test_an_answer_not_understood_at_the_summary_is_quoted_shortly(circuit: Circuit) -> None:
    await at_the_summary(circuit)
    assert await circuit.text("  peut-être  ") == (
        "Je n'ai pas compris « peut-être ».\nRépondez `oui`, `modifier N` ou `annuler`.")
    assert await circuit.text("z" * 100) == (
        f"Je n'ai pas compris « {'z' * 80} ».\nRépondez `oui`, `modifier N` ou `annuler`.")


async def test_a_second_dialog_waits_for_the_first_to_end(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    await circuit.say("4")
    assert (await circuit.text("!pratique")).startswith(
        "Une saisie est déjà en cours (« Soumettre un document à l'ONPE », étape 2). Terminez-la ou tapez "
        "« annuler » avant d'en commencer une autre.\n")
    assert await circuit.text("Rapport annuel") == (
        "Étape 3/10 — Date du document\nAu format JJ/MM/AAAA, ex. 03/11/2026.\n" + CONTROLS)


async def test_a_dialog_expires_after_24_idle_hours_and_a_wrong_answer_keeps_it_alive(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    circuit.app.clock.advance(timedelta(hours=23))
    assert (await circuit.text("brochure")).startswith("« brochure » ne correspond à aucun choix")
    circuit.app.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert await circuit.text("4") == TITLE + CONTROLS
    circuit.app.clock.advance(timedelta(hours=24))
    assert await circuit.text("Rapport annuel") == (
        "Votre saisie « Soumettre un document à l'ONPE », commencée le 24/11/2026, a expiré faute de réponse. Rien "
        "n'a été envoyé : recommencez quand vous voulez.")
    assert await circuit.text("!annuler") == "Aucun dialogue en cours : rien à annuler."


async def test_an_answer_delivered_again_later_is_not_taken_twice(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    first = message("4", event_id="$answer-1")
    assert (await circuit.app.router.handle(first))[0].plain().startswith("Étape 2/10")
    for answer in UP_TO_THE_FILE[1:5]:
        await circuit.say(answer)
    assert await circuit.app.router.handle(first) == []
    assert (await circuit.text("Données ASE")).startswith("Étape 7/10")


async def test_the_dates_bounds_are_reckoned_from_the_day_in_paris(circuit: Circuit) -> None:
    circuit.app.clock.freeze(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))  # already 2027 in Paris
    await circuit.say("!soumettre")
    await circuit.say("4")
    await circuit.say("Rapport annuel")
    assert (await circuit.text("01/01/2032")).startswith("Étape 4/10 — Auteur")


async def test_a_file_over_the_configured_size_is_refused_with_that_size(circuit: Circuit) -> None:
    circuit.app.config.files.max_size_mb = 1
    await circuit.say("!soumettre")
    for answer in UP_TO_THE_FILE:
        await circuit.say(answer)
    big = pdf("big")
    big = type(big)(big.name, big.mime, big.data + b" " * (1024 * 1024))
    assert (await circuit.text("", attachments=(big,))).startswith(
        "Le fichier « rapport.pdf » dépasse la taille permise (1 Mo). Formats acceptés :")


async def test_an_expired_dialog_says_the_day_it_began_in_paris(circuit: Circuit) -> None:
    circuit.app.clock.freeze(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # already the 25th in Paris
    await circuit.say("!soumettre")
    circuit.app.clock.advance(timedelta(hours=25))
    assert (await circuit.text("4")).startswith(
        "Votre saisie « Soumettre un document à l'ONPE », commencée le 25/11/2026, a expiré faute de réponse.")
