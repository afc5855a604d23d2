"""Questions: answered from the FAQ, or escalated to ONPE, answered in its thread, relayed, followed up."""

from __future__ import annotations

import re

import pytest

from bot.app import App
from bot.messages import Message, RoomKind
from tests.chat import message
from tests.circuit import Circuit

REVIEW = RoomKind.REVIEW


@pytest.fixture
async def circuit(app: App) -> Circuit:
    await app.prepare()  # the seed FAQ, indexed
    return Circuit(app)


async def test_a_question_is_answered_from_the_faq_and_asks_if_it_helped(circuit: Circuit) -> None:
    text = await circuit.text("!question Comment transmettre un document à l'ONPE ?")
    assert "Réponse à votre question Q-1" in text and "!soumettre" in text
    assert "Cela répond-il à votre question ?" in text
    assert "Merci ! Bonne continuation." in await circuit.text("oui")
    assert circuit.to("review") == []


async def test_a_plain_sentence_in_a_dm_is_taken_as_a_question(circuit: Circuit) -> None:
    text = await circuit.text("quels sont les critères d'archivage de l'ONPE")
    assert "Réponse à votre question" in text and "intérêt durable" in text
    await circuit.say("oui")
    assert "Je n'ai pas compris" in await circuit.text("bonjour")  # a greeting is not


async def test_an_unhelpful_answer_is_escalated_answered_in_the_thread_and_followed_up(circuit: Circuit) -> None:
    await circuit.say("!question Comment transmettre un document à l'ONPE ?")
    assert "transmise à l'ONPE" in await circuit.text("non")
    [card] = circuit.to("review")
    assert "Question Q-1" in card.text and "Posée par marie" in card.text and card.reply.topic == "Q-1"
    in_thread = message("Par !soumettre, ou par courriel à l'ONPE.", user="onpe", room=REVIEW)
    replies = await circuit.app.router.handle(Message(**{**in_thread.__dict__, "topic": "Q-1"}))
    await circuit.app.outbox.send_due()
    assert "Réponse transmise" in replies[0].plain()
    [relayed] = circuit.to_person("marie")
    assert "Réponse de l'ONPE à votre question Q-1" in relayed.text and "— L'équipe de l'ONPE" in relayed.text
    assert "Q-1 est rouverte" in await circuit.text("Et pour un fichier de plus de 20 Mo ?")
    assert any("Suite de marie pour Q-1" in s.text for s in circuit.to("review"))


async def test_a_question_with_no_answer_goes_to_onpe_and_becomes_a_faq_entry(circuit: Circuit) -> None:
    text = await circuit.text("!question Quel logiciel de tableur utilise l'équipe de Mayotte ?")
    assert "Je n'ai pas de réponse toute prête : votre question Q-1 est transmise" in text
    await circuit.say("!repondre Q-1 LibreOffice Calc, sur tous les postes.", user="onpe", room=REVIEW)
    assert "LibreOffice Calc" in circuit.to_person("marie")[-1].text
    summary = await circuit.text("!faq ajouter Q-1", user="onpe", room=REVIEW)
    assert "Quel logiciel de tableur" in summary and "LibreOffice Calc" in summary
    await circuit.say("modifier 2", user="onpe", room=REVIEW)
    await circuit.say("LibreOffice Calc, le tableur libre.", user="onpe", room=REVIEW)
    saved = await circuit.text("oui", user="onpe", room=REVIEW)
    assert "ajoutée à la FAQ" in saved
    text = await circuit.text("!question tableur équipe Mayotte ?", user="paul")
    assert "LibreOffice Calc, le tableur libre." in text


async def test_faq_is_curated_only_by_reviewers(circuit: Circuit) -> None:
    listing = await circuit.text("!faq lister", user="onpe", room=REVIEW)
    first = re.search(r"F-\d+", listing)
    assert first and "FAQ (14 entrées)" in listing
    key = first.group(0)
    assert await circuit.text(f"!faq supprimer {key}", user="onpe", room=REVIEW) == f"Entrée {key} retirée de la FAQ."
    again = await circuit.text(f"!faq supprimer {key}", user="onpe", room=REVIEW)
    assert again.split("\n")[0] == f"Il n'y a pas d'entrée {key} dans la FAQ."
    for room in (RoomKind.GROUP, REVIEW):  # a référent, even in the review room
        refused = await circuit.text("!faq lister", user="marie", room=room)
        assert refused.split("\n")[0] == "La commande !faq est réservée aux relecteurs de l'ONPE."
    assert "FAQ (13 entrées)" in await circuit.text("!faq lister", user="onpe", room=REVIEW)


async def test_search_finds_what_was_archived_in_french(circuit: Circuit) -> None:
    rid = await circuit.submit(title="Évaluation des placements familiaux", summary="Les élèves protégés.")
    not_yet = await circuit.text("!chercher évaluations type:document")  # not archived yet
    assert not_yet.startswith("Aucun résultat pour « évaluations type:document ».")
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    text = await circuit.text("!chercher évaluations type:document")
    assert f"{rid} — Évaluation des placements familiaux" in text
    assert rid in await circuit.text("!chercher eleve dept:allier annee:2025")
    assert (await circuit.text("!chercher eleve dept:29")).startswith("Aucun résultat pour « eleve dept:29 ».")


NO_RESULT_HINT = "Essayez moins de mots, ou sans filtre ; ou posez la question : `!question …`"


@pytest.mark.parametrize(
    ("hostile", "answer"),
    [
        ("AND OR NEAR(", f"Aucun résultat pour « AND OR NEAR( ».\n{NO_RESULT_HINT}"),
        ("a:b:c", f"Aucun résultat pour « a:b:c ».\n{NO_RESULT_HINT}"),
        ("*", f"Aucun résultat pour « * ».\n{NO_RESULT_HINT}"),
        ("'; DROP TABLE item;--", f"Aucun résultat pour « '; DROP TABLE item;-- ».\n{NO_RESULT_HINT}"),
        ("x" * 2000, f"Aucun résultat pour « {'x' * 200} ».\n{NO_RESULT_HINT}"),  # the query shown is cut
        ("🙂", f"Aucun résultat pour « 🙂 ».\n{NO_RESULT_HINT}"),
        ("évaluation\x00 NEAR( type:document", "1 résultat(s) pour « évaluation NEAR( type:document »\n  • D-1 —"),
        ('"', 'Un guillemet " est ouvert mais jamais fermé.'),  # said by the parser, before any search
    ],
    ids=["operators", "colons", "star", "sql", "2000-chars", "emoji", "nul-and-operator", "lone-quote"],
)
async def test_a_hostile_search_gets_a_real_answer(circuit: Circuit, hostile: str, answer: str) -> None:
    rid = await circuit.submit(title="Évaluation des placements familiaux")
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    [reply] = await circuit.say(f"!chercher {hostile}")
    assert reply.plain().startswith(answer)
    assert "erreur interne" not in reply.plain()
    found = await circuit.text("!chercher évaluation type:document")  # and the index is whole
    assert found.startswith(f"1 résultat(s) pour « évaluation type:document »\n  • {rid} — Évaluation des placements")


async def test_a_search_result_from_the_faq_can_be_shown(circuit: Circuit) -> None:
    text = await circuit.text("!chercher critères archivage type:faq")
    key = re.search(r"F-\d+", text)
    assert key
    shown = await circuit.text(f"!voir {key.group(0)}")
    assert "intérêt durable" in shown
    assert "Il n'y a pas d'entrée F-9999" in await circuit.text("!voir F-9999")


async def test_unanswered_questions_are_listed_once_a_day(circuit: Circuit) -> None:
    from datetime import timedelta

    from bot import jobs

    await circuit.say("!question Quel logiciel de tableur utilise l'équipe de Mayotte ?")
    circuit.app.clock.advance(timedelta(days=1, hours=2))  # the next day, past the reminder's hour
    await jobs.remind_reviewers(circuit.app)
    circuit.app.clock.advance(timedelta(hours=2))
    await jobs.remind_reviewers(circuit.app)
    await circuit.app.outbox.send_due()
    lists = [s for s in circuit.to("review") if "attendent une réponse" in s.text]
    assert len(lists) == 1 and "Q-1" in lists[0].text


@pytest.mark.parametrize(
    ("command", "room", "expected"),
    [
        ("!voir Q-2", RoomKind.DIRECT, "« Q-2 » n'est pas un identifiant de document ou de pratique"),
        ("!voir D-404", RoomKind.DIRECT, "Je ne trouve pas D-404."),
        ("!repondre D-1 oui", REVIEW, "« D-1 » n'est pas un identifiant de question (ex. Q-3)."),
        ("!repondre Q-404 oui", REVIEW, "Je ne trouve pas Q-404."),
        ("!evenement annuler Q-1", RoomKind.DIRECT, "« Q-1 » n'est pas un identifiant d'événement (ex. E-4)."),
        ("!evenement annuler E-404", RoomKind.DIRECT, "Je ne trouve pas E-404."),
    ],
)
async def test_a_wrong_or_unknown_id_is_named(circuit: Circuit, command: str, room: RoomKind, expected: str) -> None:
    assert expected in await circuit.text(command, user="onpe", room=room)
