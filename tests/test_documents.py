"""The document circuit as referents and ONPE staff live it: the guided submission, review, archive, announce."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import jobs
from bot.app import App
from bot.messages import Attachment, Reply, RoomKind, Tone
from storage.ids import parse_readable_id
from storage.repositories import Repos
from tests.circuit import Circuit, pdf

REVIEW = RoomKind.REVIEW


@pytest.fixture
def circuit(app: App) -> Circuit:
    return Circuit(app)


async def test_a_document_goes_from_a_dm_to_the_archive_and_the_announcement_rooms(circuit: Circuit) -> None:
    rid = await circuit.submit(title="Observatoire 2025")
    [card] = circuit.to("review")
    assert f"Nouveau document {rid} à relire" in card.text and "Observatoire 2025" in card.text
    assert "Document présentant des garanties méthodologiques" in card.text  # the criteria of seed 000
    assert card.reply.prompt is not None and card.reply.prompt.subject == rid
    assert card.reply.stored_file is not None and card.reply.stored_file.name == "rapport.pdf"

    text = await circuit.text(f"!approuver {rid} Merci, travail très utile", user="onpe", room=REVIEW)
    assert text == f"✅ {rid} archivé par onpe ; l'annonce part dans les salons d'annonces."
    [decision] = circuit.to_person("marie")
    assert decision.text == (f"Bonne nouvelle : votre soumission {rid} « Observatoire 2025 » est archivée par "
                             "l'ONPE.\nNote de l'ONPE : Merci, travail très utile")
    [announce] = circuit.to("announce")
    assert f"Nouveau document archivé : {rid} — Observatoire 2025" in announce.text
    assert "Rapports ODPE" in announce.text and "03 — Allier" in announce.text
    assert announce.reply.stored_file is not None
    assert await circuit.text("!statut") == f"Vos soumissions\n  • {rid} — Observatoire 2025 : archivé"
    assert "Statut : archivé" in await circuit.text(f"!voir {rid}", user="paul")


@pytest.mark.parametrize(
    ("step", "bad", "expected"),
    [
        (1, "12", "Il n'y a pas de choix n° 12 : répondez par un numéro de 1 à 6."),
        (1, "brochure", "« brochure » ne correspond à aucun choix"),
        (2, "x" * 201, "Votre texte fait 201 caractères ; 200 au plus sont permis."),
        (2, "-", "Ce champ est obligatoire"),
        (3, "31/02/2025", "Le 31/02/2025 n'existe pas dans le calendrier."),
        (3, "hier", "« hier » n'est pas une date au format JJ/MM/AAAA"),
        (7, "beaucoup", "« beaucoup » ne correspond à aucun choix"),
        (8, "alier", "Vouliez-vous dire Allier (03) ?"),
        (9, "voici le fichier", "Envoyez le document en pièce jointe"),
    ],
)
async def test_a_bad_answer_gets_its_reason_and_loses_nothing(
    circuit: Circuit, step: int, bad: str, expected: str
) -> None:
    answers = ["4", "Rapport <b>2025</b>", "03/11/2025", "Service ODPE", "maltraitance", "Données", "3", "03"]
    await circuit.say("!soumettre")
    for answer in answers[: step - 1]:
        await circuit.say(answer)
    [reply] = await circuit.say(bad)
    assert expected in reply.plain()
    assert f"Étape {step}/10" in reply.plain()  # the same question again
    for answer in answers[step - 1 :]:
        await circuit.say(answer)
    await circuit.say("", attachments=(pdf(),))
    summary = await circuit.text("-")
    assert "Récapitulatif" in summary
    for kept in ("Rapports ODPE", "Rapport <b>2025</b>", "03/11/2025", "Service ODPE", "maltraitance",
                 "Mixte", "03 — Allier", "rapport.pdf"):
        assert kept in summary


@pytest.mark.parametrize(
    ("attachment", "expected"),
    [
        (Attachment("rapport.pdf", "application/pdf", b"MZ\x90\x00" + b"\x00" * 200),
         "Le fichier « rapport.pdf » est un programme"),
        (Attachment("vide.pdf", "application/pdf", b""), "Le fichier « vide.pdf » est vide."),
        (Attachment("gros.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 1)),
         "dépasse la taille permise (1 Mo)"),
        (Attachment("photo.pdf", "application/pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100), "image PNG"),
    ],
)
async def test_a_refused_file_is_explained_and_the_dialog_waits_for_another(
    circuit: Circuit, attachment: Attachment, expected: str
) -> None:
    circuit.app.config.files.max_size_mb = 1
    await circuit.say("!soumettre")
    for answer in ("4", "Titre", "03/11/2025", "Auteur", "mots", "Sources", "3", "03"):
        await circuit.say(answer)
    [reply] = await circuit.say("", attachments=(attachment,))
    assert expected in reply.plain() and "Étape 9/10" in reply.plain()
    assert "Formats acceptés : PDF" in reply.plain()
    [reply] = await circuit.say("", attachments=(pdf(),))
    assert "Étape 10/10" in reply.plain()


async def test_html_in_a_title_is_shown_as_text_never_as_markup(circuit: Circuit) -> None:
    rid = await circuit.submit(title="<img src=x onerror=alert(1)>")
    [card] = circuit.to("review")
    assert "<img" not in card.reply.html() and "&lt;img src=x onerror=alert(1)&gt;" in card.reply.html()
    assert rid in card.text


async def test_a_restart_mid_dialog_resumes_at_the_same_step(circuit: Circuit) -> None:
    for answer in ("!soumettre", "1", "Données 2024"):
        await circuit.say(answer)
    restarted = Circuit(App(circuit.app.config, db=circuit.app.db))  # a new process on the same database
    [reply] = await restarted.say("hier")
    assert "Étape 3/10 — Date du document" in reply.plain()
    [reply] = await restarted.say("01/02/2024")
    assert "Étape 4/10" in reply.plain()


async def test_back_and_edit_change_an_answer_without_retyping_the_rest(circuit: Circuit) -> None:
    for answer in ("!soumettre", "1", "Premier titre"):
        await circuit.say(answer)
    assert "Étape 2/10" in await circuit.text("retour")
    assert "Étape 3/10" in await circuit.text("Deuxième titre")
    for answer in ("03/11/2025", "Auteur", "mots", "Sources", "3", "03"):
        await circuit.say(answer)
    await circuit.say("", attachments=(pdf(),))
    await circuit.say("-")
    assert "Étape 2/10 — Titre du document" in await circuit.text("modifier 2")
    summary = await circuit.text("Titre final")
    assert "2. Titre du document : Titre final" in summary and "Données statistiques" in summary
    assert "Je n'ai pas compris « peut-être »" in await circuit.text("peut-être")


async def test_cancel_sends_nothing(circuit: Circuit) -> None:
    for answer in ("!soumettre", "1", "Titre"):
        await circuit.say(answer)
    assert await circuit.text("annuler") == "« Soumettre un document à l'ONPE » abandonné : rien n'a été envoyé."
    assert circuit.to("review") == []
    assert "Je n'ai pas compris ce message" in await circuit.text("Titre")  # no dialog any more


async def test_a_dialog_started_in_a_shared_room_goes_on_in_the_dm(circuit: Circuit) -> None:
    text = await circuit.text("!soumettre", room=RoomKind.GROUP)
    assert text == "Je vous écris en message direct pour la suite."
    [first] = circuit.to_person("marie")
    assert "Étape 1/10 — Type de document" in first.text
    assert "Étape 2/10" in await circuit.text("2")  # answered in the DM


async def test_an_idle_dialog_expires_with_a_message(circuit: Circuit) -> None:
    await circuit.say("!soumettre")
    await circuit.say("1")
    circuit.app.clock.advance(timedelta(hours=25))
    expired = await jobs.expire_dialogs(circuit.app)
    await circuit.app.outbox.send_due()
    assert expired == 1
    [notice] = circuit.to_person("marie")
    assert "a expiré faute de réponse" in notice.text and "Rien n'a été envoyé" in notice.text
    assert "Je n'ai pas compris ce message" in await circuit.text("Titre")


async def test_the_same_file_twice_is_pointed_out(circuit: Circuit) -> None:
    same = pdf("même contenu")
    rid = await circuit.submit(file=same)
    await circuit.say("!soumettre")
    for answer in ("4", "Titre", "03/11/2025", "Auteur", "mots", "Sources", "3", "03"):
        await circuit.say(answer)
    await circuit.say("", attachments=(same,))
    await circuit.say("-")
    text = await circuit.text("oui")
    assert f"Ce fichier a déjà été soumis : {rid}" in text
    assert "Récapitulatif" in text  # still at the summary: nothing lost


async def test_a_reviewer_cannot_review_their_own_submission(circuit: Circuit) -> None:
    # Who may review where, for every review action, is tests/test_review_rights.py.
    rid = await circuit.submit(user="onpe")
    [reply] = await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    assert reply.tone is Tone.ERROR
    assert reply.plain().split("\n")[0] == (
        f"Vous ne pouvez pas relire votre propre soumission {rid} : un autre relecteur s'en chargera."
    )
    assert "soumis, en attente de relecture" in await circuit.text(f"!statut {rid}", user="onpe")
    assert circuit.to("announce") == []


async def test_an_action_that_no_longer_applies_says_who_did_what_and_when(circuit: Circuit) -> None:
    rid = await circuit.submit()
    circuit.app.clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # 00:30 on the 25th in Paris
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    [reply] = await circuit.say(f"!refuser {rid} trop tard", user="claire", room=REVIEW)
    assert reply.tone is Tone.ERROR
    assert reply.plain().split("\n")[0] == f"{rid} a déjà été archivé par onpe le 25/11/2026."  # the day in Paris


async def test_a_rejection_reaches_the_submitter_with_its_reason(circuit: Circuit) -> None:
    rid = await circuit.submit()
    await circuit.say(f"!refuser {rid} Ce document est déjà archivé sous une autre forme", user="onpe", room=REVIEW)
    [decision] = circuit.to_person("marie")
    assert decision.text == (f"Votre soumission {rid} « Rapport annuel 2025 » n'a pas été retenue par l'ONPE.\n"
                             "Motif : Ce document est déjà archivé sous une autre forme")
    assert circuit.to("announce") == []


async def test_a_request_for_information_loops_back_through_the_submitter(circuit: Circuit) -> None:
    rid = await circuit.submit()
    await circuit.say(f"!complement {rid} Quelles sont vos sources exactes ?", user="onpe", room=REVIEW)
    [ask] = circuit.to_person("marie")
    assert "Quelles sont vos sources exactes ?" in ask.text and "Répondez simplement ici" in ask.text
    text = await circuit.text("Les données de l'ASE 2024, tableau 3.")
    assert "votre complément est transmis à l'ONPE" in text
    relayed = [s for s in circuit.to("review") if "Complément de marie" in s.text]
    assert relayed and relayed[0].reply.topic == rid
    assert "Les données de l'ASE 2024, tableau 3." in relayed[0].text
    status = await circuit.text(f"!statut {rid}")
    assert status.split("\n")[0] == f"{rid} — Rapport annuel 2025 : en cours de relecture"


async def test_the_submitter_can_withdraw_a_pending_item(circuit: Circuit) -> None:
    rid = await circuit.submit()
    assert await circuit.text(f"!annuler {rid}") == f"{rid} est retiré : l'ONPE ne le relira pas."
    assert circuit.to("review")[-1].text == f"{rid} a été retiré par la personne qui l'avait soumis."
    text = await circuit.text(f"!approuver {rid}", user="onpe", room=REVIEW)
    assert text.split("\n")[0].startswith(f"{rid} a été retiré par la personne qui l'avait soumis, le ")
    pauls = await circuit.submit(user="paul")
    [refused] = await circuit.say(f"!annuler {pauls}")
    assert refused.plain().split("\n")[0] == f"Seule la personne qui a soumis {pauls} peut faire cela."
    assert "soumis, en attente de relecture" in await circuit.text(f"!statut {pauls}", user="paul")


async def test_featuring_asks_consent_and_the_newsletter_lists_what_was_agreed(circuit: Circuit) -> None:
    rid = await circuit.submit(title="Guide des indicateurs", summary="Un guide pour construire les indicateurs.")
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    asked = await circuit.text(f"!valoriser {rid}", user="onpe", room=REVIEW)
    assert asked == f"Accord demandé à la personne qui a soumis {rid}."
    question = circuit.to_person("marie")[-1].text
    assert question.startswith(f"L'ONPE souhaite mettre en avant votre soumission {rid} « Guide des indicateurs »")
    assert question.endswith("Acceptez-vous ? Répondez « oui » ou « non ».")
    assert await circuit.text("oui") == "Merci, votre réponse est enregistrée."
    assert circuit.to("review")[-1].text == f"marie accepte la valorisation de {rid}."
    markdown, html_reply = await circuit.say("!lettre", user="onpe", room=REVIEW)
    assert markdown.file is not None and html_reply.file is not None
    assert b"## Guide des indicateurs" in markdown.file.data
    assert b"Un guide pour construire les indicateurs." in html_reply.file.data
    assert "Aucune soumission valorisée" in await circuit.text("!lettre", user="onpe", room=REVIEW)


async def test_reactions_act_like_the_commands(circuit: Circuit) -> None:
    first = await circuit.submit()
    [claimed] = await circuit.react("✋", first)
    assert claimed.plain() == f"✋ {first} est pris en charge par onpe."
    status = await circuit.text(f"!statut {first}")
    assert status.split("\n")[0] == f"{first} — Rapport annuel 2025 : en cours de relecture"
    [approved] = await circuit.react("✅", first)
    assert approved.plain() == f"✅ {first} archivé par onpe ; l'annonce part dans les salons d'annonces."
    assert len(circuit.to("announce")) == 1

    second = await circuit.submit()
    [ask] = await circuit.react("❌", second)
    assert ask.plain() == f"Motif du refus de {second} ? Écrivez-le ici (ou « annuler »)."
    [rejected] = await circuit.say("Hors du champ de l'observatoire", user="onpe", room=REVIEW)
    assert rejected.plain() == f"❌ {second} refusé par onpe. Motif : Hors du champ de l'observatoire"
    decision = circuit.to_person("marie")[-1]
    assert decision.text.endswith("\nMotif : Hors du champ de l'observatoire")

    third = await circuit.submit(user="paul")  # pending: only a reviewer's ✅ could archive it
    [refused] = await circuit.react("✅", third, user="marie")
    assert (refused.plain(), refused.tone) == ("Cette action est réservée aux relecteurs de l'ONPE.", Tone.ERROR)
    status = await circuit.text(f"!statut {third}", user="paul")
    assert status.split("\n")[0] == f"{third} — Rapport annuel 2025 : soumis, en attente de relecture"
    assert len(circuit.to("announce")) == 1


async def test_two_reviewers_approving_at_once_archive_and_announce_once(circuit: Circuit) -> None:
    rid = await circuit.submit()
    results = await asyncio.gather(
        circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW),
        circuit.say(f"!approuver {rid}", user="claire", room=REVIEW),
    )
    texts = ["\n".join(r.plain() for r in replies) for replies in results]
    assert sum("✅" in t for t in texts) == 1
    assert sum("a déjà été archivé" in t for t in texts) == 1
    await circuit.app.outbox.send_due()
    assert len(circuit.to("announce")) == 1


async def test_a_restart_between_approval_and_announcement_sends_it_once(app: App) -> None:
    circuit = Circuit(app)
    rid = await circuit.submit()
    circuit.app.outbox.deliverers.clear()  # the process stops before the dispatcher sends anything
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    assert circuit.to("announce") == []
    restarted = Circuit(App(app.config, db=app.db))
    assert await restarted.app.outbox.send_due() == 2  # the decision to Marie, the announcement
    await restarted.app.outbox.send_due()
    assert len(restarted.to("announce")) == 1


async def test_reviewers_are_reminded_once_a_day_of_what_waits_too_long(circuit: Circuit) -> None:
    rid = await circuit.submit()
    circuit.app.clock.advance(timedelta(days=8))  # 10:00 in Paris, past the reminder's hour (9)
    assert await jobs.remind_reviewers(circuit.app) == 1
    circuit.app.clock.advance(timedelta(hours=1))
    assert await jobs.remind_reviewers(circuit.app) == 1
    await circuit.app.outbox.send_due()
    reminders = [s for s in circuit.to("review") if "Rappel" in s.text]
    assert len(reminders) == 1 and rid in reminders[0].text


async def test_a_pending_item_is_shown_only_to_its_submitter_and_reviewers(circuit: Circuit) -> None:
    rid = await circuit.submit()
    assert "n'est pas (encore) publié" in await circuit.text(f"!voir {rid}", user="paul")
    assert "Statut : soumis" in await circuit.text(f"!voir {rid}")
    assert "Statut : soumis" in await circuit.text(f"!voir {rid}", user="onpe", room=REVIEW)


async def test_edit_needs_a_field_number(circuit: Circuit) -> None:
    await circuit.submit(user="paul")  # paul's first, to be at the summary again below
    await circuit.say("!soumettre")
    for answer in ("4", "Titre", "03/11/2025", "Auteur", "mots", "Sources", "3", "03"):
        await circuit.say(answer)
    await circuit.say("", attachments=(pdf(),))
    await circuit.say("-")
    text = await circuit.text("modifier 42")
    assert "Indiquez le numéro du champ à modifier, de 1 à 10" in text and "Récapitulatif" in text


async def test_an_answer_delivered_twice_counts_once(circuit: Circuit) -> None:
    from tests.chat import message

    await circuit.say("!soumettre")
    answer = message("1", user="marie", event_id="$same-answer")
    first = await circuit.app.router.handle(answer)
    again = await circuit.app.router.handle(answer)
    assert "Étape 2/10" in first[0].plain() and again == []
    assert "Étape 3/10" in await circuit.text("Titre")


@pytest.mark.parametrize(
    ("answer", "explained"),
    [("-", "Ce champ est obligatoire : il ne peut pas être passé."),
     ("n'importe quoi", "Je n'ai pas compris « n'importe quoi ».")],
    ids=["refused-skip", "not-understood-at-summary"],
)
async def test_an_answer_that_changes_nothing_is_still_answered_once(
    circuit: Circuit, answer: str, explained: str
) -> None:
    from tests.chat import message

    await circuit.say("!soumettre")
    if answer != "-":  # up to the summary, where only « oui », « modifier N » and « annuler » are understood
        for step in ("4", "Titre", "03/11/2025", "Service ODPE", "maltraitance", "Données", "mixte", "03"):
            await circuit.say(step)
        await circuit.say("", attachments=(pdf(),))
        await circuit.say("-")
    redelivered = message(answer, user="marie", event_id="$same-answer")
    [reply] = await circuit.app.router.handle(redelivered)  # explained once
    assert reply.plain().split("\n")[0] == explained
    assert await circuit.app.router.handle(redelivered) == []


async def test_a_decision_is_told_in_the_items_thread_of_the_other_platforms_review_rooms(app: App) -> None:
    circuit = Circuit(app)
    elsewhere: list[tuple[str, Reply]] = []

    async def deliver(message_id: int, target: str, payload: dict[str, Any]) -> None:
        elsewhere.append((target, Reply.from_json(payload["reply"])))

    app.router.platforms[:] = ["console", "slack"]
    app.outbox.register("slack", deliver)
    rid = await circuit.submit()
    await circuit.say(f"!prendre {rid}", user="onpe", room=REVIEW)
    await circuit.say(f"!approuver {rid} Très utile", user="onpe", room=REVIEW)
    told = [(target, reply.plain(), reply.topic) for target, reply in elsewhere if target == "review"]
    assert ("review", f"{rid} : pris en charge par onpe.", rid) in told
    assert ("review", f"{rid} : accepté par onpe.\nNote : Très utile", rid) in told
    # The reviewer's own review room has the command's answer, not this line too.
    assert not any("accepté par onpe." in s.text for s in circuit.to("review"))


async def test_a_nul_typed_in_a_title_is_dropped_and_the_dialog_goes_on(circuit: Circuit) -> None:
    # No database keeps a NUL in text (PostgreSQL refuses it): a pasted one must cost the person nothing.
    await circuit.say("!soumettre")
    await circuit.say("4")
    [step] = await circuit.say("Rapport\x00 annuel\x00")
    assert step.plain().startswith("Étape 3/10 — Date du document")
    for answer in ("03/11/2025", "Service\x00 ODPE", "maltraitance", "Données", "mixte", "03"):
        await circuit.say(answer)
    await circuit.say("", attachments=(pdf(),))
    summary = await circuit.text("-")
    assert "\n  2. Titre du document : Rapport annuel\n" in summary
    assert "\n  4. Auteur : Service ODPE\n" in summary
    [done] = await circuit.say("oui")
    assert done.plain().startswith("Merci ! Votre document est enregistré sous D-1.")
    [card] = circuit.to("review")
    assert "\n  Titre : Rapport annuel\n" in card.text and "\x00" not in card.text
    async with circuit.app.db.session() as session:
        readable = parse_readable_id("D-1")
        assert readable is not None
        item = await Repos(session).items.get(readable)
        assert item is not None and (item.title, item.fields["author"]) == ("Rapport annuel", "Service ODPE")
