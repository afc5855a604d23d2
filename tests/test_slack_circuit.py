"""The document circuit on Slack: the form as a modal, the review card with its buttons, the announcement."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from storage.db import Database
from storage.ids import ReadableId
from storage.repositories import Repos
from tests.circuit import pdf
from tests.slack_fake import (
    Call,
    Workspace,
    blocks_by_id,
    buttons,
    click,
    document_state,
    next_ts,
    submit,
    submit_document_by_modal,
    typed,
    workspace,
)


@pytest.fixture
async def ws(migrated_db: Database, tmp_path: Path) -> AsyncIterator[Workspace]:
    async with workspace(migrated_db, tmp_path / "files") as connected:
        yield connected


async def test_document_modal_renders_the_form_and_reports_errors_next_to_each_field(ws: Workspace) -> None:
    await ws.slash("soumettre")
    [opened] = await ws.fake.wait_for(lambda: ws.fake.called("views.open"))
    view = opened["view"]
    blocks = blocks_by_id(view)
    assert [o["text"]["text"] for o in blocks["type"]["element"]["options"]][3] == "Rapports ODPE"
    assert blocks["date"]["element"]["type"] == "datepicker"
    assert blocks["title"]["element"]["max_length"] == 200
    assert blocks["file"]["element"]["type"] == "file_input" and blocks["summary"]["optional"] is True

    answer = await submit(ws, view, document_state(view, "Atlantide", []))
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"department", "file"}
    assert "Département inconnu : « Atlantide »" in answer["errors"]["department"]
    await ws.app.idle()
    assert ws.fake.posted("CREVIEW") == [] and ws.fake.posted("DUMARIE") == []

    file = ws.fake.share_file("rapport.pdf", pdf().data)
    answer = await submit(ws, view, document_state(view, "allier", [file]))
    assert answer["response_action"] == "update"
    summary = Call("view", {"view": answer["view"]}).text
    assert "Récapitulatif" in summary and "Rapports ODPE" in summary and "03 — Allier" in summary
    assert "03/11/2025" in summary and "rapport.pdf" in summary


async def test_full_document_circuit_through_modal_and_buttons_announces_once(ws: Workspace) -> None:
    card = await submit_document_by_modal(ws)
    await ws.app.idle()
    [thanks] = ws.fake.posted("DUMARIE")
    assert "enregistré sous D-1" in thanks.text
    assert "Nouveau document D-1 à relire" in card.text and "Rapport annuel 2025" in card.text
    assert buttons(card) == ["review:claim", "review:approve", "review:request_info", "review:reject"]
    # The file goes up with the current upload API, in the card's thread.
    [upload] = ws.fake.called("files.completeUploadExternal", channel_id="CREVIEW")
    assert upload["thread_ts"] == card.result["ts"]
    assert pdf().data[:8] in next(iter(ws.fake.uploads.values()))

    # Each click is answered in full once the bot is idle: the button's work is work under way till its end.
    await click(ws, card, "claim")
    await ws.app.idle()
    [claimed] = [c for c in ws.fake.posted("CREVIEW") if "pris en charge" in c.text]
    assert claimed["thread_ts"] == card.result["ts"]
    [update] = ws.fake.called("chat.update", ts=card.result["ts"])
    assert "en cours de relecture" in update.text and "review:claim" not in buttons(update)
    [told] = ws.fake.posted("DUMARIE")[1:]
    assert "en cours de relecture" in told.text

    await click(ws, card, "approve")
    await ws.app.idle()
    [announce] = ws.fake.posted("CANNOUNCE")
    assert "Nouveau document archivé : D-1 — Rapport annuel 2025" in announce.text
    assert len(ws.fake.called("files.completeUploadExternal", channel_id="CANNOUNCE")) == 1
    [good_news] = ws.fake.posted("DUMARIE")[2:]
    assert "Bonne nouvelle" in good_news.text
    updates = ws.fake.called("chat.update", ts=card.result["ts"])
    assert "archivé" in updates[-1].text and buttons(updates[-1]) == []
    # The submitter's App Home follows the news they are told.
    assert "2025 : archivé" in ws.fake.called("views.publish", user_id="UMARIE")[-1].text

    # A second click (a reviewer who had not seen the update) is refused, to that reviewer only.
    await click(ws, card, "approve", user="UBOB")
    await ws.app.idle()
    [refused] = ws.fake.called("chat.postEphemeral", user="UBOB")
    assert "D-1 a déjà été archivé" in refused.text
    assert len(ws.fake.posted("CANNOUNCE")) == 1 and len(ws.fake.posted("DUMARIE")) == 3


async def test_reject_button_asks_the_reason_in_a_modal_and_tells_the_submitter(ws: Workspace) -> None:
    card = await submit_document_by_modal(ws)
    await click(ws, card, "reject")
    await ws.app.idle()
    [_form, reason] = ws.fake.called("views.open")
    reason_view = reason["view"]
    assert "Motif du refus de D-1" in Call("view", {"view": reason_view}).text

    empty = {"reason": {"value": {"type": "plain_text_input", "value": None}}}
    answer = await submit(ws, reason_view, empty, user="UONPE")
    assert answer == {"response_action": "errors", "errors": {"reason": "Ce champ est obligatoire."}}

    given = {"reason": {"value": {"type": "plain_text_input", "value": "Hors du champ de la protection de l'enfance"}}}
    assert await submit(ws, reason_view, given, user="UONPE") == {}
    await ws.app.idle()
    [told] = [c for c in ws.fake.posted("DUMARIE") if "pas été retenue" in c.text]
    assert "Motif : Hors du champ de la protection de l'enfance" in told.text
    [in_thread] = [c for c in ws.fake.posted("CREVIEW") if "refusé par" in c.text]
    assert in_thread["thread_ts"] == card.result["ts"]
    update = ws.fake.called("chat.update", ts=card.result["ts"])
    assert "refusé" in update[-1].text and buttons(update[-1]) == []
    assert ws.fake.posted("CANNOUNCE") == []


async def test_a_summary_sent_twice_by_a_double_click_or_a_retry_is_one_submission(ws: Workspace) -> None:
    await ws.slash("soumettre")
    [opened] = await ws.fake.wait_for(lambda: ws.fake.called("views.open"))
    answer = await submit(ws, opened["view"], document_state(opened["view"], "03",
                                                             [ws.fake.share_file("rapport.pdf", pdf().data)]))
    summary = answer["view"]
    sent = await asyncio.gather(submit(ws, summary, {}), submit(ws, summary, {}))  # both clicks reach the bot
    assert sent == [{}, {}]
    await submit(ws, summary, {})  # and Slack tries again later
    await ws.app.idle()
    [card] = ws.fake.posted("CREVIEW")
    assert "Nouveau document D-1 à relire" in card.words
    [thanks] = ws.fake.posted("DUMARIE")
    assert "enregistré sous D-1" in thanks.words
    async with ws.app.db.session() as session:
        assert await Repos(session).items.get(ReadableId("D", 2)) is None


async def test_a_modal_file_slack_fails_to_hand_over_is_said_next_to_the_field(ws: Workspace) -> None:
    await ws.slash("soumettre")
    [opened] = await ws.fake.wait_for(lambda: ws.fake.called("views.open"))
    broken = ws.fake.share_file("rapport.pdf", pdf().data, status=500)
    answer = await submit(ws, opened["view"], document_state(opened["view"], "03", [broken]))
    assert answer == {"response_action": "errors", "errors": {
        "file": "Je n'ai pas pu récupérer le fichier « rapport.pdf » : envoyez-le de nouveau, s'il vous plaît."}}


async def test_text_dialog_in_the_dm_ends_in_the_same_review_card(ws: Workspace) -> None:
    for answer in ("soumettre", "4", "Rapport annuel 2025", "03/11/2025", "Service ODPE", "maltraitance",
                   "Données du département", "mixte", "03"):
        await ws.dm(answer)
    file = ws.fake.share_file("rapport.pdf", pdf().data)
    await ws.dm("", files=[file])
    await ws.dm("-")
    await ws.dm("oui")
    [card] = await ws.fake.wait_for(lambda: ws.fake.posted("CREVIEW"))
    assert "Nouveau document D-1 à relire" in card.text and buttons(card)[0] == "review:claim"


async def test_a_modal_cannot_start_over_a_dialog_in_progress(ws: Workspace) -> None:
    await ws.dm("soumettre")
    await ws.fake.wait_for(lambda: ws.fake.posted("DUMARIE"))
    await ws.slash("soumettre")
    [refusal] = await ws.fake.wait_for(lambda: ws.fake.responses)
    assert "Une saisie est déjà en cours" in json.dumps(refusal, ensure_ascii=False)
    assert ws.fake.called("views.open") == []


async def test_request_info_loops_back_to_the_submitter_and_the_answer_lands_in_the_thread(ws: Workspace) -> None:
    card = await submit_document_by_modal(ws)
    await click(ws, card, "request_info")
    opened = await ws.fake.wait_for(lambda: ws.fake.called("views.open")[1:])
    question = {"reason": {"value": {"type": "plain_text_input", "value": "Pouvez-vous préciser les sources ?"}}}
    assert await submit(ws, opened[0]["view"], question, user="UONPE") == {}
    asked = await ws.fake.wait_for(lambda: [c for c in ws.fake.posted("DUMARIE") if "complément" in c.text])
    assert "Pouvez-vous préciser les sources ?" in asked[0].text
    update = await ws.fake.wait_for(lambda: ws.fake.called("chat.update", ts=card.result["ts"]))
    assert "complément demandé" in update[-1].text and buttons(update[-1]) == ["review:approve", "review:reject"]

    await ws.dm("Les données viennent de l'observatoire départemental, année 2024.")
    answered = await ws.fake.wait_for(
        lambda: [c for c in ws.fake.posted("CREVIEW") if "Complément de umarie pour D-1" in c.text])
    assert answered[0]["thread_ts"] == card.result["ts"]
    assert "observatoire départemental" in answered[0].text


async def test_announcement_reaches_every_channel_once_when_one_fails_first(
    migrated_db: Database, tmp_path: Path
) -> None:
    async with workspace(migrated_db, tmp_path / "files", announcement_channels=("CANNOUNCE", "CREGION")) as ws:
        card = await submit_document_by_modal(ws)
        ws.fake.fail_next("chat.postMessage", 500, channel="CREGION")
        await click(ws, card, "approve")
        await ws.fake.wait_for(lambda: ws.fake.called("chat.postMessage:refused"))
        # The outbox tries again later: the channel that had it does not get it twice.
        await ws.fake.wait_for(lambda: ws.fake.posted("CREGION"), timeout=15)
        await ws.app.idle()
        assert len(ws.fake.posted("CANNOUNCE")) == 1 and len(ws.fake.posted("CREGION")) == 1
        assert "Nouveau document archivé : D-1" in ws.fake.posted("CREGION")[0].text


async def test_an_announcement_whose_file_failed_sends_the_file_again_not_the_message(ws: Workspace) -> None:
    card = await submit_document_by_modal(ws)
    ws.fake.fail_next("files.getUploadURLExternal", 500)
    await click(ws, card, "approve")
    await ws.fake.wait_for(lambda: ws.fake.called("files.getUploadURLExternal:refused"))
    await ws.fake.wait_for(lambda: len(ws.fake.called("files.completeUploadExternal")) == 2, timeout=15)
    await ws.app.idle()
    assert len(ws.fake.posted("CANNOUNCE")) == 1  # the message once; its file on the next try


async def test_a_decision_typed_as_a_command_also_updates_the_card_and_goes_in_its_thread(ws: Workspace) -> None:
    card = await submit_document_by_modal(ws)
    await ws.slash("prendre D-1", user="UONPE", channel="CREVIEW")
    claimed = await ws.fake.wait_for(lambda: [c for c in ws.fake.posted("CREVIEW") if "pris en charge" in c.text])
    assert claimed[0]["thread_ts"] == card.result["ts"]
    [update] = await ws.fake.wait_for(lambda: ws.fake.called("chat.update", ts=card.result["ts"]))
    assert "en cours de relecture" in update.text and "pris en charge par uonpe" in update.text


async def test_reactions_on_the_card_work_as_on_matrix_and_the_reason_is_written_in_the_thread(ws: Workspace) -> None:
    card = await submit_document_by_modal(ws)
    ts = card.result["ts"]
    await ws.event({"type": "reaction_added", "user": "UONPE", "reaction": "x", "item_user": "UBOT",
                    "item": {"type": "message", "channel": "CREVIEW", "ts": ts}, "event_ts": next_ts()})
    asked = await ws.fake.wait_for(lambda: [c for c in ws.fake.posted("CREVIEW") if "Motif du refus" in c.text])
    assert asked[0]["thread_ts"] == ts
    await ws.event({"type": "message", "channel": "CREVIEW", "channel_type": "group", "user": "UONPE",
                    "text": "Document déjà transmis l'an dernier", "ts": next_ts(), "thread_ts": ts})
    told = await ws.fake.wait_for(lambda: [c for c in ws.fake.posted("DUMARIE") if "pas été retenue" in c.text])
    assert "Motif : Document déjà transmis l'an dernier" in told[0].text
    update = await ws.fake.wait_for(lambda: [c for c in ws.fake.called("chat.update", ts=ts) if "refusé" in c.text])
    assert buttons(update[-1]) == []


async def test_reject_on_an_item_decided_meanwhile_says_why_without_asking_a_reason(ws: Workspace) -> None:
    card = await submit_document_by_modal(ws)
    await click(ws, card, "approve")
    await ws.fake.wait_for(lambda: ws.fake.posted("CANNOUNCE"))
    await click(ws, card, "reject", user="UBOB")
    [refused] = await ws.fake.wait_for(lambda: ws.fake.called("chat.postEphemeral", user="UBOB"))
    assert "D-1 a déjà été archivé par uonpe" in refused.text
    assert len(ws.fake.called("views.open")) == 1  # the document's form only


async def test_the_bots_token_never_goes_to_a_file_address_outside_slack(ws: Workspace) -> None:
    asked: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        asked.append(request.headers.get("Authorization", ""))
        return web.Response(body=pdf().data)

    web_app = web.Application()
    web_app.router.add_get("/rapport.pdf", elsewhere)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0)
    await site.start()
    try:
        for answer in ("soumettre", "4", "Rapport annuel 2025", "03/11/2025", "Service ODPE", "maltraitance",
                       "Données du département", "mixte", "03"):
            await ws.dm(answer)
        await ws.fake.wait_for(lambda: [c for c in ws.fake.posted("DUMARIE") if "Étape 9/10" in c.text])
        before = len(ws.fake.posted("DUMARIE"))
        foreign = {**ws.fake.share_file("rapport.pdf", pdf().data),
                   "url_private_download": f"http://localhost:{runner.addresses[0][1]}/rapport.pdf"}
        await ws.dm("", files=[foreign])
        await ws.app.idle()
        [told] = ws.fake.posted("DUMARIE")[before:]
        assert asked == []
        # The file is asked for again; nothing is lost.
        assert told.words == (":warning: Je n'ai pas pu récupérer le fichier « rapport.pdf » : envoyez-le de "
                              "nouveau, s'il vous plaît. Votre saisie en cours est conservée.")
    finally:
        await runner.cleanup()


async def test_a_document_with_every_field_at_its_longest_reaches_reviewers_and_the_network_whole(
    ws: Workspace,
) -> None:
    # What a person may type, to the last character the form allows, with what Slack writes as entities.
    longest = {"title": typed(200), "author": typed(200, "Service de l'observatoire "), "sources": typed(500),
               "keywords": ", ".join(typed(60, f"{n} maltraitance & indicateurs ") for n in range(15)),
               "summary": typed(1500)}
    await ws.slash("soumettre")
    [opened] = await ws.fake.wait_for(lambda: ws.fake.called("views.open"))
    state = document_state(opened["view"], "03", [ws.fake.share_file("rapport.pdf", pdf().data)])
    for name, value in longest.items():
        state[name] = {"value": {"type": "plain_text_input", "value": value}}
    answer = await submit(ws, opened["view"], state)  # the summary to check: a view Slack takes (submit checks)
    assert answer["response_action"] == "update", answer
    summary = Call("view", {"view": answer["view"]}).words
    assert all(" ".join(value.split()) in summary for value in longest.values())
    await submit(ws, answer["view"], {})
    [card] = await ws.fake.wait_for(lambda: ws.fake.posted("CREVIEW"))
    assert all(" ".join(value.split()) in card.words for value in longest.values())

    await click(ws, card, "approve")
    [announce] = await ws.fake.wait_for(lambda: ws.fake.posted("CANNOUNCE"))
    assert f"Nouveau document archivé : D-1 — {longest['title']}" in announce.words
    assert longest["summary"] in announce.words
    await ws.app.idle()  # and nothing the bot sent on the way is what Slack refuses (the workspace checks)
