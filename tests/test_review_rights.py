"""Who reviews, and where: a référent in the review room decides nothing, a reviewer acts in the review room only,
a reaction that is no review action changes nothing, a reviewer busy with a dialog keeps it, and the consent to
featuring is the submitter's alone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot import review
from bot.app import App
from bot.errors import Forbidden
from bot.messages import Message, RoomKind, Tone
from storage.ids import parse_readable_id
from storage.models import Question
from storage.repositories import Repos
from tests.chat import message
from tests.circuit import Circuit
from tests.db_fixtures import TEST_START

REVIEW = RoomKind.REVIEW
SUBMITTED_AT = TEST_START.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M")
REFUSED_REACTION = "Cette action est réservée aux relecteurs de l'ONPE."
ONLY_IN_THE_REVIEW_ROOM = "Les actions de relecture se font dans le salon de revue."


@pytest.fixture
async def circuit(app: App) -> Circuit:
    app.clock.freeze()  # every step at TEST_START: the history lines below are exact
    await app.prepare()  # the seed FAQ
    return Circuit(app)


async def waiting(circuit: Circuit) -> str:
    """Marie's document waiting for review (D-1) and her question waiting for ONPE's answer (Q-1); nothing sent
    yet that the test could mistake for its own effect."""
    rid = await circuit.submit()
    text = await circuit.text("!question Quel logiciel de tableur utilise l'équipe de Mayotte ?")
    assert "votre question Q-1 est transmise" in text
    circuit.sent.clear()
    return rid


async def typed_about(circuit: Circuit, typed: str, rid: str) -> str:
    """`typed` about the document `rid` and the first entry of the FAQ."""
    async with circuit.app.db.session() as session:
        first = (await Repos(session).faq.entries())[0]
    return typed.format(rid=rid, faq=f"F-{first.id}")


async def assert_nothing_happened(circuit: Circuit, rid: str) -> None:
    """The document is still waiting, the question unanswered, the FAQ whole; nobody was told anything."""
    assert await circuit.text(f"!statut {rid}") == (
        f"{rid} — Rapport annuel 2025 : soumis, en attente de relecture\n  • {SUBMITTED_AT} — soumis"
    )
    async with circuit.app.db.session() as session:
        repos = Repos(session)
        readable = parse_readable_id("Q-1")
        assert readable is not None
        question: Question | None = await repos.questions.get(readable)
        assert question is not None and (question.status, question.answer) == ("escalated", None)
        assert len(await repos.faq.entries()) == 14
    assert circuit.sent == []  # no announcement, nothing to the submitter, nothing in the review room


# The review commands, as a référent types them in the review room: (what is typed, the command's name).
REVIEW_COMMANDS = [
    ("!approuver {rid}", "!approuver"),
    ("!approve {rid} Très bien", "!approuver"),
    ("!refuser {rid} Hors du champ de l'observatoire", "!refuser"),
    ("!complement {rid} Quelles sont vos sources ?", "!complement"),
    ("!prendre {rid}", "!prendre"),
    ("!valoriser {rid}", "!valoriser"),
    ("!repondre Q-1 LibreOffice Calc", "!repondre"),
    ("!faq ajouter Q-1", "!faq"),
    ("!faq supprimer {faq}", "!faq"),
    ("!faq lister", "!faq"),
    ("!lettre", "!lettre"),
    ("!file", "!file"),
]


@pytest.mark.parametrize(("typed", "name"), REVIEW_COMMANDS, ids=[typed for typed, _ in REVIEW_COMMANDS])
async def test_a_referent_in_the_review_room_takes_no_review_action(circuit: Circuit, typed: str, name: str) -> None:
    rid = await waiting(circuit)
    [reply] = await circuit.say(await typed_about(circuit, typed, rid), user="paul", room=REVIEW)
    sentence, help_line = reply.plain().split("\n")
    assert reply.tone is Tone.ERROR
    assert sentence == f"La commande {name} est réservée aux relecteurs de l'ONPE."
    assert help_line.startswith(f"`{name}")
    await assert_nothing_happened(circuit, rid)


@pytest.mark.parametrize("room", [RoomKind.DIRECT, RoomKind.GROUP])
@pytest.mark.parametrize(("typed", "name"), REVIEW_COMMANDS, ids=[typed for typed, _ in REVIEW_COMMANDS])
async def test_a_reviewer_takes_review_actions_in_the_review_room_only(
    circuit: Circuit, typed: str, name: str, room: RoomKind
) -> None:
    rid = await waiting(circuit)
    [reply] = await circuit.say(await typed_about(circuit, typed, rid), user="onpe", room=room)
    assert reply.tone is Tone.ERROR
    assert reply.plain().split("\n")[0] == f"La commande {name} ne s'utilise que dans le salon de revue de l'ONPE."
    await assert_nothing_happened(circuit, rid)


@pytest.mark.parametrize("key", ["✅", "❌", "❓", "✋", "✅\ufe0f"])
async def test_a_referents_reaction_on_a_card_in_the_review_room_is_refused(circuit: Circuit, key: str) -> None:
    rid = await waiting(circuit)
    [reply] = await circuit.react(key, rid, user="paul")
    assert (reply.plain(), reply.tone) == (REFUSED_REACTION, Tone.ERROR)
    await assert_nothing_happened(circuit, rid)
    # Not asked for a reason either: what Paul writes next in the room is his own business.
    assert await circuit.say("Hors du champ de l'observatoire", user="paul", room=REVIEW) == []


@pytest.mark.parametrize("room", [RoomKind.DIRECT, RoomKind.GROUP])
@pytest.mark.parametrize("key", ["✅", "❌", "❓", "✋"])
async def test_a_reaction_on_a_card_outside_the_review_room_changes_nothing(
    circuit: Circuit, key: str, room: RoomKind
) -> None:
    rid = await waiting(circuit)
    [reply] = await circuit.react(key, rid, user="onpe", room=room)
    assert (reply.plain(), reply.tone) == (ONLY_IN_THE_REVIEW_ROOM, Tone.ERROR)
    [reply] = await circuit.react(key, rid, user="paul", room=room)
    assert (reply.plain(), reply.tone) == (REFUSED_REACTION, Tone.ERROR)
    await assert_nothing_happened(circuit, rid)


@pytest.mark.parametrize("key", ["👍", "🎉", "❤️", "x", ""])
async def test_a_reaction_that_is_no_review_action_gets_no_reply_and_changes_nothing(
    circuit: Circuit, key: str
) -> None:
    rid = await waiting(circuit)
    assert await circuit.react(key, rid, user="onpe") == []
    await assert_nothing_happened(circuit, rid)


async def test_a_referent_writing_in_a_questions_thread_answers_nothing(circuit: Circuit) -> None:
    rid = await waiting(circuit)
    in_thread = message("LibreOffice Calc, je crois.", user="paul", room=REVIEW)
    assert await circuit.app.router.handle(Message(**{**in_thread.__dict__, "topic": "Q-1"})) == []
    await circuit.app.outbox.send_due()
    await assert_nothing_happened(circuit, rid)


async def test_a_referent_in_the_review_room_sees_no_one_elses_pending_item(circuit: Circuit) -> None:
    rid = await waiting(circuit)
    [shown] = await circuit.say(f"!voir {rid}", user="paul", room=REVIEW)
    assert shown.plain().split("\n")[0] == (
        f"{rid} n'est pas (encore) publié : seuls la personne qui l'a soumis et les relecteurs peuvent le voir."
    )
    [status] = await circuit.say(f"!statut {rid}", user="paul", room=REVIEW)
    assert status.plain().split("\n")[0] == f"{rid} n'est pas l'une de vos soumissions."
    assert "Rôles : référent" in await circuit.text("!profil", user="paul", room=REVIEW)


async def test_a_referent_in_the_review_room_cannot_ask_to_feature_an_archived_item(circuit: Circuit) -> None:
    rid = await circuit.submit()
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    circuit.sent.clear()
    [reply] = await circuit.say(f"!valoriser {rid}", user="paul", room=REVIEW)
    assert reply.plain().split("\n")[0] == "La commande !valoriser est réservée aux relecteurs de l'ONPE."
    assert circuit.sent == []  # Marie is asked nothing
    assert await circuit.text("oui") == (  # and has nothing to answer
        "Je n'ai pas compris ce message. Les commandes commencent par « ! » : tapez `!aide` pour la liste."
    )


async def test_the_review_state_machine_refuses_a_reviewers_step_to_a_referent(circuit: Circuit) -> None:
    # Whatever calls it (a command, a reaction, a Slack button), apply() checks the role itself.
    rid = await waiting(circuit)
    async with circuit.app.db.session() as session:
        repos = Repos(session)
        said = message("", user="paul", room=REVIEW)
        paul = await repos.people.get_or_create(said.platform, said.sender, said.sender_name)
        ctx = circuit.app.router.context(said, paul, repos)
        item = await review.find_item(ctx, rid)
        for action in ("claim", "approve", "reject", "request_info"):
            with pytest.raises(Forbidden):
                await review.apply(ctx, item, action)
    await assert_nothing_happened(circuit, rid)


# --- A reviewer busy with a dialog of their own ---------------------------------------------------------------


async def onpe_midway_through_a_submission(circuit: Circuit) -> None:
    for answer in ("!soumettre", "1", "Données de l'ONPE"):
        await circuit.say(answer, user="onpe")


async def test_a_reviewer_in_a_dialog_approves_by_reaction_and_the_dialog_waits_where_it_was(
    circuit: Circuit,
) -> None:
    rid = await waiting(circuit)
    await onpe_midway_through_a_submission(circuit)
    [done] = await circuit.react("✅", rid)
    assert done.plain() == f"✅ {rid} archivé par onpe ; l'annonce part dans les salons d'annonces."
    assert len(circuit.to("announce")) == 1
    [reply] = await circuit.say("03/11/2025", user="onpe")  # the date, the third step of their submission
    assert reply.plain().startswith("Étape 4/10 — Auteur")


@pytest.mark.parametrize(
    ("key", "sentence"),
    [
        ("❌", "Pour refuser {rid} sans la quitter, tapez ici « !refuser {rid} <motif> »."),
        ("❓", "Pour demander un complément sur {rid} sans la quitter, tapez ici « !complement {rid} <question> »."),
    ],
)
async def test_a_reviewer_in_a_dialog_who_reacts_for_a_reason_keeps_the_dialog_and_is_told_the_command(
    circuit: Circuit, key: str, sentence: str
) -> None:
    rid = await waiting(circuit)
    await onpe_midway_through_a_submission(circuit)
    [reply] = await circuit.react(key, rid)
    assert reply.tone is Tone.ERROR
    assert reply.plain() == (
        "Votre saisie en cours (« Soumettre un document à l'ONPE », étape 3) est conservée. "
        + sentence.format(rid=rid)
    )
    await assert_nothing_happened(circuit, rid)
    [step] = await circuit.say("03/11/2025", user="onpe")  # the dialog goes on at its third step
    assert step.plain().startswith("Étape 4/10 — Auteur")
    command = "!refuser" if key == "❌" else "!complement"
    [done] = await circuit.say(f"{command} {rid} Hors du champ", user="onpe", room=REVIEW)
    assert done.tone is Tone.SUCCESS
    [told] = circuit.to_person("marie")
    assert "Hors du champ" in told.text
    [step] = await circuit.say("Service ONPE", user="onpe")  # and is still there
    assert step.plain().startswith("Étape 5/10 — Mots-clés")


# --- Consent to featuring ---------------------------------------------------------------------------------------


async def archived_and_asked(circuit: Circuit) -> str:
    rid = await circuit.submit(title="Guide des indicateurs")
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    [asked] = await circuit.say(f"!valoriser {rid}", user="onpe", room=REVIEW)
    assert asked.plain() == f"Accord demandé à la personne qui a soumis {rid}."
    return rid


async def assert_not_featured(circuit: Circuit) -> None:
    assert await circuit.text("!lettre", user="onpe", room=REVIEW) == (
        "Aucune soumission valorisée (avec accord) depuis la dernière lettre."
    )
    assert not any("la valorisation de" in s.text for s in circuit.to("review"))


async def test_only_the_submitters_yes_counts_as_consent_to_featuring(circuit: Circuit) -> None:
    rid = await archived_and_asked(circuit)
    not_understood = (
        "Je n'ai pas compris ce message. Les commandes commencent par « ! » : tapez `!aide` pour la liste."
    )
    assert await circuit.text("oui", user="paul") == not_understood
    assert await circuit.text("oui", user="onpe") == not_understood
    assert await circuit.say("oui", user="onpe", room=REVIEW) == []
    assert await circuit.say("oui", user="paul", room=RoomKind.GROUP) == []
    await assert_not_featured(circuit)
    assert await circuit.text("oui") == "Merci, votre réponse est enregistrée."
    assert [s.text for s in circuit.to("review") if "la valorisation de" in s.text] == [
        f"marie accepte la valorisation de {rid}."
    ]


async def test_a_consent_prompt_that_reached_someone_else_is_refused(circuit: Circuit) -> None:
    rid = await archived_and_asked(circuit)
    # A consent dialog about Marie's item in Paul's hands (a mix-up of people): his « oui » must not count.
    async with circuit.app.db.session() as session:
        repos = Repos(session)
        said = message("", user="paul")
        paul = await repos.people.get_or_create(said.platform, said.sender, said.sender_name)
        ctx = circuit.app.router.context(said, paul, repos)
        await circuit.app.router.dialogs.start_for(ctx, paul, "feature_consent", {"item": rid})
    [reply] = await circuit.say("oui", user="paul")
    assert (reply.plain(), reply.tone) == (f"Seule la personne qui a soumis {rid} peut donner son accord.", Tone.ERROR)
    await assert_not_featured(circuit)
    assert await circuit.text("oui", user="paul") == (  # that prompt is gone, Marie's is still hers
        "Je n'ai pas compris ce message. Les commandes commencent par « ! » : tapez `!aide` pour la liste."
    )
    assert await circuit.text("non") == "Merci, votre réponse est enregistrée."
    assert [s.text for s in circuit.to("review") if "la valorisation de" in s.text] == [
        f"marie refuse la valorisation de {rid}."
    ]


async def test_a_submitter_busy_with_a_dialog_gives_consent_through_statut_once_done(circuit: Circuit) -> None:
    rid = await circuit.submit(title="Guide des indicateurs")
    await circuit.say(f"!approuver {rid}", user="onpe", room=REVIEW)
    for answer in ("!soumettre", "1", "Un second document"):  # Marie is busy when ONPE asks
        await circuit.say(answer)
    await circuit.say(f"!valoriser {rid}", user="onpe", room=REVIEW)
    asked = circuit.to_person("marie")[-1]
    assert asked.text.endswith(f"Terminez d'abord votre saisie en cours, puis tapez « statut {rid} » pour répondre.")
    [step] = await circuit.say("oui")  # an answer to her dialog (the date), not a consent
    assert step.plain().startswith("« oui » n'est pas une date au format JJ/MM/AAAA")
    await assert_not_featured(circuit)
    await circuit.say("annuler")
    history, question = await circuit.say(f"!statut {rid}")
    assert history.plain().split("\n")[0] == f"{rid} — Guide des indicateurs : archivé"
    assert question.plain().startswith(f"L'ONPE souhaite mettre en avant votre soumission {rid} « Guide des "
                                       "indicateurs » (lettre de l'ONPE, site internet).")
    assert question.plain().endswith("Acceptez-vous ? Répondez « oui » ou « non ».")
    assert await circuit.text("oui") == "Merci, votre réponse est enregistrée."
    markdown, _html = await circuit.say("!lettre", user="onpe", room=REVIEW)
    assert markdown.file is not None and b"## Guide des indicateurs" in markdown.file.data


# --- A decision taken meanwhile ---------------------------------------------------------------------------------


async def test_a_reason_written_after_another_reviewer_decided_is_told_so_and_asked_no_more(
    circuit: Circuit,
) -> None:
    rid = await waiting(circuit)
    [ask] = await circuit.react("❌", rid)
    assert ask.plain() == f"Motif du refus de {rid} ? Écrivez-le ici (ou « annuler »)."
    await circuit.say(f"!approuver {rid}", user="claire", room=REVIEW)  # while Onpe writes the reason
    [reply] = await circuit.say("Hors du champ de l'observatoire", user="onpe", room=REVIEW)
    day = TEST_START.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y")
    assert (reply.plain(), reply.tone) == (f"{rid} a déjà été archivé par claire le {day}.", Tone.ERROR)
    assert await circuit.say("Bonne journée à tous", user="onpe", room=REVIEW) == []  # no longer taken as a reason
    [decision] = circuit.to_person("marie")
    assert decision.text == f"Bonne nouvelle : votre soumission {rid} « Rapport annuel 2025 » est archivée par l'ONPE."


async def test_a_complement_written_after_the_item_was_decided_is_told_so_and_asked_no_more(
    circuit: Circuit,
) -> None:
    rid = await waiting(circuit)
    await circuit.say(f"!complement {rid} Quelles sont vos sources ?", user="onpe", room=REVIEW)
    await circuit.say(f"!refuser {rid} Hors du champ", user="claire", room=REVIEW)  # while Marie writes
    [reply] = await circuit.say("Les données de l'ASE 2024.")
    day = TEST_START.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y")
    assert (reply.plain(), reply.tone) == (f"{rid} a déjà été refusé par claire le {day}.", Tone.ERROR)
    assert await circuit.text("Merci") == (
        "Je n'ai pas compris ce message. Les commandes commencent par « ! » : tapez `!aide` pour la liste."
    )
    assert not any("Complément de marie" in s.text for s in circuit.to("review"))
