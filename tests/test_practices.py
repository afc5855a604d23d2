"""Inspiring practices (seed 004): declared under conditions, examined by the committee, published once."""

from __future__ import annotations

import re

import pytest

from bot.app import App
from bot.messages import RoomKind
from tests.circuit import Circuit

REVIEW = RoomKind.REVIEW
ANSWERS = ("15/09/2023", "Association Les Liens", "Café des parents", "Un lieu d'accueil pour les parents.",
           "départementale", "Autre : médiation familiale", "3", "2", "association", "allier")


@pytest.fixture
def circuit(app: App) -> Circuit:
    return Circuit(app)


async def declare(circuit: Circuit, user: str = "marie") -> str:
    await circuit.say("!pratique", user=user)
    await circuit.say("oui", user=user)
    for answer in ANSWERS:
        await circuit.say(answer, user=user)
    [reply] = await circuit.say("oui", user=user)
    assert "enregistrée sous P-" in reply.plain(), reply.plain()
    match = re.search(r"enregistrée sous (P-\d+)", reply.plain())
    assert match
    return match.group(1)


CONDITIONS_STEP = """Étape 1/11 — Conditions préalables
• Chaque auto-déclarant porte la responsabilité des informations qu'il délivre. Il certifie leurs exactitudes.
• Avant d'être mis en ligne et visible par tous, le recueil que vous ferez sera soumis à un comité de sélection.
• Le recueil de données nécessite également le recueil d'un accord préalable d'un représentant du département \
d'implantation de la pratique.
Répondez « oui » si : J'ai lu et j'accepte les conditions ci-dessus.
(« retour » pour revenir en arrière ; « annuler » pour abandonner)"""


async def test_the_conditions_come_first_and_must_be_accepted(circuit: Circuit) -> None:
    first = await circuit.text("!pratique")
    assert first == (
        "Déclarer une pratique inspirante\nCe recueil fait connaître les pratiques départementales et associatives. "
        "Votre déclaration sera examinée par le comité de sélection avant d'être publiée.\n" + CONDITIONS_STEP
    )
    refused = await circuit.text("non")
    assert refused == (
        "Pour continuer, répondez « oui » (vous acceptez ces conditions) ou « annuler ».\n" + CONDITIONS_STEP
    )
    assert "Étape 2/11 — Date de mise en œuvre de la pratique" in await circuit.text("oui")


async def test_a_practice_is_declared_examined_and_published_once(circuit: Circuit) -> None:
    rid = await declare(circuit)
    [card] = circuit.to("review")
    assert f"Nouvelle pratique inspirante {rid} à examiner" in card.text
    assert "Type d'intervention : Autre (médiation familiale)" in card.text
    assert "Thématique : Violences sexuelles" in card.text and "Public visé : 4 à 12 ans" in card.text
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    [announce] = circuit.to("announce")
    assert f"Nouvelle pratique inspirante publiée : {rid} — Café des parents" in announce.text
    assert circuit.to_person("marie")[-1].text == (
        f"Bonne nouvelle : votre soumission {rid} « Café des parents » est publiée par l'ONPE."
    )
    assert "Statut : publié" in await circuit.text(f"!voir {rid}", user="paul")


@pytest.mark.parametrize(
    ("step", "bad", "expected"),
    [
        (3, "x" * 101, "Votre texte fait 101 caractères ; 100 au plus"),
        (5, "y" * 1001, "Votre texte fait 1001 caractères ; 1000 au plus"),
        (7, "Autre", "Précisez votre réponse après « Autre »"),
        (6, "mondiale", "« mondiale » ne correspond à aucun choix"),
    ],
)
async def test_the_limits_of_the_form_are_explained(circuit: Circuit, step: int, bad: str, expected: str) -> None:
    await circuit.say("!pratique")
    await circuit.say("oui")
    for answer in ANSWERS[: step - 2]:
        await circuit.say(answer)
    reply = await circuit.text(bad)
    assert expected in reply and f"Étape {step}/11" in reply


async def test_onpe_registers_a_fiche_published_at_once(circuit: Circuit) -> None:
    text = await circuit.text("!pratique fiche", user="onpe", room=REVIEW)
    assert text == "Je vous écris en message direct pour la suite."
    for answer in (*ANSWERS, "Soutenir la parentalité", "Un local, deux animateurs", "Partenariat CAF",
                   "Moins de placements", "-"):
        await circuit.say(answer, user="onpe")
    reply = await circuit.text("oui", user="onpe")
    assert "Fiche dispositif de l'ONPE publiée sous P-" in reply
    [announce] = circuit.to("announce")
    assert "Objectifs du projet : Soutenir la parentalité" in announce.text


@pytest.mark.parametrize("room", [RoomKind.GROUP, REVIEW, RoomKind.DIRECT])
async def test_only_reviewers_register_fiches(circuit: Circuit, room: RoomKind) -> None:
    [reply] = await circuit.say("!pratique fiche", user="marie", room=room)
    assert reply.plain().split("\n")[0] == "Cette action de !pratique est réservée aux relecteurs de l'ONPE."
    assert await circuit.text("oui", user="marie") == (  # no dialog was started for her
        "Je n'ai pas compris ce message. Les commandes commencent par « ! » : tapez `!aide` pour la liste."
    )


async def test_fiches_are_registered_in_the_review_room(circuit: Circuit) -> None:
    [reply] = await circuit.say("!pratique fiche", user="onpe", room=RoomKind.GROUP)
    assert reply.plain().split("\n")[0] == "Les fiches dispositifs s'enregistrent dans le salon de revue."
    assert circuit.to_person("onpe") == []


async def test_a_featured_practice_goes_into_the_newsletter_with_its_description(circuit: Circuit) -> None:
    rid = await declare(circuit)
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    await circuit.say(f"!valoriser {rid}", user="onpe", room=REVIEW)
    assert await circuit.text("oui") == "Merci, votre réponse est enregistrée."
    markdown, _html = await circuit.say("!lettre", user="onpe", room=REVIEW)
    assert markdown.file is not None
    assert "## Café des parents" in markdown.file.data.decode()
    assert "Un lieu d'accueil pour les parents." in markdown.file.data.decode()
