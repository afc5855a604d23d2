"""Routing as people meet it: prefix, names and aliases, quotes, help, did-you-mean, permissions, limits, failures."""

from __future__ import annotations

import logging
import re

import pytest

from bot.app import App
from bot.context import Context
from bot.i18n import _
from bot.messages import Reply, RoomKind, Tone
from bot.registry import Arg, Registry, Role, Where
from tests.chat import message, replies, say, unique_user


async def test_help_lists_the_commands_in_french(app: App) -> None:
    text = await say(app, "!aide", user=unique_user())
    assert "Commandes d'odpe-bot" in text
    for usage in ("`!aide [commande]`", "`!profil [reglage] [valeur…]`", "`!annuaire <departement…>`"):
        assert usage in text


async def test_english_alias_runs_the_same_command(app: App) -> None:
    user = unique_user()
    assert await say(app, "!help annuaire", user=user) == await say(app, "!aide annuaire", user=user)
    assert await say(app, "!directory 03", user=user) == await say(app, "!annuaire 03", user=user)


async def test_command_names_ignore_case_and_accents(app: App) -> None:
    assert "Commandes d'odpe-bot" in await say(app, "!AIDE", user=unique_user())
    assert "Allier" in await say(app, "!Annuaire allier", user=unique_user())


async def test_unknown_command_suggests_the_nearest_with_its_help_line(app: App) -> None:
    [reply] = await replies(app, "!aidee", user=unique_user())
    assert reply.tone is Tone.ERROR
    assert reply.plain() == (
        "Je ne connais pas la commande « aidee ».\n"
        "Vouliez-vous dire `!aide` ?\n"
        "`!aide [commande]` — Liste les commandes, ou explique l'une d'elles."
    )


async def test_unknown_command_without_a_near_one_points_to_help(app: App) -> None:
    text = await say(app, "!xyzzy", user=unique_user())
    assert "Je ne connais pas la commande « xyzzy »." in text
    assert "Tapez `!aide` pour la liste des commandes." in text


async def test_help_of_one_command_shows_usage_aliases_and_examples(app: App) -> None:
    text = await say(app, "!aide annuaire", user=unique_user())
    assert text.startswith("!annuaire, !directory")
    assert "Utilisation : `!annuaire <departement…>`" in text
    assert "`!annuaire allier`" in text


async def test_missing_argument_names_it_and_shows_usage(app: App) -> None:
    text = await say(app, "!annuaire", user=unique_user())
    assert text.startswith(
        "Il manque « departement » (code, nom ou région, ex. 03, Allier ou Bretagne) pour !annuaire."
    )
    assert "Utilisation : `!annuaire <departement…>`" in text


async def test_too_many_arguments_are_reported(app: App) -> None:
    text = await say(app, "!aide annuaire profil", user=unique_user())
    assert "Trop d'arguments pour !aide : « profil »" in text


async def test_quoted_argument_is_one_word(app: App) -> None:
    user = unique_user()
    text = await say(app, '!profil departement "Puy-de-Dôme"', user=user)
    assert "63 — Puy-de-Dôme" in text
    text = await say(app, "!profil departement « cotes d'armor »", user=user)
    assert "22 — Côtes-d'Armor" in text


async def test_unclosed_quote_gets_a_clear_sentence(app: App) -> None:
    text = await say(app, '!annuaire "Allier', user=unique_user())
    assert text == 'Un guillemet " est ouvert mais jamais fermé.'


async def test_prefix_is_optional_in_a_direct_message(app: App) -> None:
    assert "Commandes d'odpe-bot" in await say(app, "aide", user=unique_user())


async def test_chatter_in_a_shared_room_gets_no_answer(app: App) -> None:
    assert await replies(app, "aide", user=unique_user(), room=RoomKind.GROUP) == []
    assert await replies(app, "bonjour à tous", user=unique_user(), room=RoomKind.GROUP) == []


async def test_chatter_in_the_review_room_gets_no_answer(app: App) -> None:
    assert await replies(app, "on en parle demain ?", user="onpe", room=RoomKind.REVIEW) == []


async def test_non_command_in_a_direct_message_gets_a_hint(app: App) -> None:
    text = await say(app, "bonjour", user=unique_user())
    assert "Les commandes commencent par « ! »" in text and "`!aide`" in text


async def test_the_same_event_is_answered_once(app: App) -> None:
    user = unique_user()
    first = await app.router.handle(message("!aide", user=user, event_id="$same-event"))
    again = await app.router.handle(message("!aide", user=user, event_id="$same-event"))
    assert first and again == []


async def test_users_of_servers_not_allowed_are_refused(app: App) -> None:
    app.config.matrix.allowed_servers = ["example.org"]
    assert await replies(app, "!aide", user="@intrus:evil.example", platform="matrix") == []
    assert await replies(app, "!aide", user=f"@{unique_user()}:example.org", platform="matrix")


async def test_english_speakers_get_english(app: App) -> None:
    user = unique_user()
    assert "Language saved." in await say(app, "!profil langue en", user=user)
    text = await say(app, "!aidee", user=user)
    assert text.startswith("I don't know the command “aidee”.\nDid you mean `!aide`?")
    assert "odpe-bot commands" in await say(app, "!help", user=user)
    assert "Langue enregistrée." in await say(app, "!profile language fr", user=user)


async def test_admin_actions_are_refused_to_others(app: App) -> None:
    text = await say(app, "!annuaire modifier 03 email=x@y.fr", user=unique_user())
    assert text.startswith("Cette action de !annuaire est réservée aux administrateurs du bot.")


# A registry of test commands, for the rules that no shipped command exercises yet.
@pytest.fixture
async def test_app(app: App) -> App:
    registry = Registry()

    @registry.command("file", aliases=["queue"], help=_("File de revue"), family="t", role=Role.REVIEWER,
                      where=Where.REVIEW_ROOM)
    async def queue(ctx: Context) -> Reply:
        return Reply.text("file vide")

    @registry.command("panne", help=_("Échoue"), family="t", args=[Arg("texte", _("texte"), rest=True)])
    async def broken(ctx: Context, texte: str) -> Reply:
        await ctx.repo.kv.set(f"panne:{ctx.message.sender}", texte)
        raise RuntimeError("boom " + texte)

    @registry.command("ok", help=_("Répond"), family="t")
    async def fine(ctx: Context) -> Reply:
        return Reply.text("ok")

    app.router.registry = registry
    return app


async def test_reviewer_cannot_use_review_commands_outside_the_review_room(test_app: App) -> None:
    text = await say(test_app, "!file", user="onpe")  # a configured reviewer, but in a DM
    assert text.startswith("La commande !file ne s'utilise que dans le salon de revue de l'ONPE.")
    assert await say(test_app, "!queue", user="onpe", room=RoomKind.REVIEW) == "file vide"


async def test_referent_cannot_use_review_commands(test_app: App) -> None:
    text = await say(test_app, "!file", user=unique_user(), room=RoomKind.ANNOUNCEMENT)
    assert text.startswith("La commande !file est réservée aux relecteurs de l'ONPE.")


async def test_failing_command_gives_a_reference_and_the_bot_keeps_going(
    test_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    user = unique_user()
    with caplog.at_level(logging.ERROR):
        [reply] = await replies(test_app, "!panne secret", user=user)
    match = re.search(r"référence ([0-9A-F]{6})", reply.plain())
    assert reply.tone is Tone.ERROR and match
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log, with the same reference
    assert await say(test_app, "!ok", user=user) == "ok"
    async with test_app.db.session() as session:
        from storage.repositories import Repos

        assert await Repos(session).kv.get(f"panne:@{user}:console") is None  # half-done work rolled back


async def test_rate_limit_warns_once_then_stays_quiet(app: App) -> None:
    app.limiter.rate, app.limiter.burst = 1 / 60, 2
    user = unique_user()
    assert await say(app, "!aide", user=user)
    assert await say(app, "!aide", user=user)
    assert "patientez" in await say(app, "!aide", user=user)
    assert await replies(app, "!aide", user=user) == []
    assert await say(app, "!aide", user=unique_user())  # others are not held back


async def test_an_edited_answer_is_not_taken_as_the_next_one_and_the_dialog_waits(app: App) -> None:
    import dataclasses

    from tests.circuit import Circuit

    circuit = Circuit(app)
    await circuit.say("!soumettre")
    await circuit.say("4")
    edit = dataclasses.replace(message("* Rapports ODPE", event_id="$edit-1"), edited=True)
    [reply] = await app.router.handle(edit)
    assert reply.tone is Tone.ERROR
    assert reply.plain() == (
        "Vous avez modifié un message : je ne lis que les nouveaux messages. Envoyez la version corrigée dans un "
        "nouveau message. Votre saisie en cours est conservée."
    )
    assert await app.router.handle(edit) == []  # the same edit delivered again: said once
    assert "Étape 3/10 — Date du document" in await circuit.text("Titre du rapport")  # still at step 2 before


async def test_an_edit_in_a_shared_room_is_left_alone(app: App) -> None:
    import dataclasses

    edit = dataclasses.replace(message("!aide", room=RoomKind.GROUP), edited=True)
    assert await app.router.handle(edit) == []


async def test_a_file_the_platform_would_not_hand_over_is_asked_again(app: App) -> None:
    import dataclasses

    from tests.circuit import Circuit, pdf

    circuit = Circuit(app)
    await circuit.say("!soumettre")
    for answer in ("4", "Titre", "03/11/2025", "Auteur", "mots", "Sources", "3", "03"):
        await circuit.say(answer)
    failed = dataclasses.replace(message(""), unreadable=("rapport.pdf",))
    [reply] = await app.router.handle(failed)
    assert reply.plain() == ("Je n'ai pas pu récupérer le fichier « rapport.pdf » : envoyez-le de nouveau, s'il vous "
                             "plaît. Votre saisie en cours est conservée.")
    [reply] = await circuit.say("", attachments=(pdf(),))
    assert "Étape 10/10" in reply.plain()


async def test_a_dialog_whose_sending_fails_gets_the_internal_error_sentence_and_keeps_the_answers(app: App) -> None:
    import commands
    from bot.dialogs import Flow
    from bot.forms import Field, Form

    registry = Registry()
    for shipped in commands.load():
        registry.add(shipped)

    async def failing(ctx: Context, answers: dict[str, object], context: dict[str, object]) -> Reply:
        raise RuntimeError("the archive is away")

    registry.add_flow("panne", Flow(form=Form("panne", _("Panne"), (Field("texte", _("Texte")),)), submit=failing,
                                    confirm=False))

    @registry.command("demarrer", help=_("Démarre"), family="t")
    async def start(ctx: Context) -> Reply:
        return await ctx.dialog.start(ctx, "panne")

    bot = App(app.config, registry=registry, db=app.db)
    user = unique_user()
    await say(bot, "!demarrer", user=user)
    [reply] = await replies(bot, "mon texte", user=user)
    assert reply.tone is Tone.ERROR
    assert reply.plain().startswith("Désolé, une erreur interne est survenue (référence ")
    # Nothing was lost: the dialog is still there, waiting for the same answer.
    [again] = await replies(bot, "mon texte", user=user)
    assert again.plain().startswith("Désolé, une erreur interne est survenue (référence ")
