"""What Slack users read: the core's replies as mrkdwn and Block Kit within Slack's limits, their own text kept as
text and never cut off; and the rules of Block Kit the fake Slack holds every payload to."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Reply
from bot.rich import Bullets, Fields, Heading, Para, Span, bold, code, mention
from integrations.slack import render
from tests.slack_fake import FakeSlack, message_errors, view_errors

RENDER = render.Renderer(prefix="!", slash="/odpe")


def test_markup_typed_by_people_is_shown_not_obeyed() -> None:
    reply = Reply.card([Para.of(["Titre : ", bold("<!here> *urgent* & <https://x.example|clic>")])])
    [block] = RENDER.blocks(reply)
    assert block["text"]["text"] == "Titre : *&lt;!here&gt; *urgent* &amp; &lt;https://x.example|clic&gt;*"


def test_styles_mentions_links_and_commands_as_slash_commands() -> None:
    spans = [code("!aide"), Span(" "), Span("lien", href="https://onpe.example/a?b=1&c=2"), Span(" "),
             mention("slack:U0123", "Marie"), Span(" "), mention("@bob:example.org", "Bob")]
    assert RENDER.spans(spans) == "`/odpe aide` <https://onpe.example/a?b=1&amp;c=2|lien> <@U0123> Bob"


def test_a_card_becomes_a_header_and_sections() -> None:
    reply = Reply.card([Heading.of("Nouveau document D-1 à relire"), Fields.of([("Titre", "Rapport")]),
                        Bullets.of(["un", "deux"])])
    blocks = RENDER.blocks(reply)
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Nouveau document D-1 à relire"}}
    assert blocks[1]["text"]["text"] == "*Titre* : Rapport"
    assert blocks[2]["text"]["text"] == "• un\n• deux"


def test_an_error_is_marked_and_a_text_too_long_for_a_section_goes_on_in_the_next() -> None:
    reply = Reply.error("x" * 5000)
    first, second = RENDER.blocks(reply)
    assert first["text"]["text"] == ":warning: " + "x" * 2990 and second["text"]["text"] == "x" * 2010
    assert message_errors({"blocks": [first, second]}) == []


def test_a_long_list_is_cut_between_its_lines_and_every_line_is_kept() -> None:
    items = [f"E-{n} — " + "Réunion des référents de l'observatoire " * 5 for n in range(40)]
    blocks = RENDER.blocks(Reply.card([Bullets.of(items)]))
    texts = [b["text"]["text"] for b in blocks]
    assert len(blocks) == 3 and all(len(t) <= 3000 for t in texts)
    assert "\n".join(texts) == "\n".join("• " + item for item in items)  # whole lines, in order, none lost


def test_a_cut_never_falls_inside_a_link_or_an_entity() -> None:
    link = Span("le guide de l'observatoire", href="https://onpe.example/guide")
    words = "a" * 2970 + " "  # the first section's limit falls inside the link
    first, second = RENDER.blocks(Reply.card([Para.of([words, link])]))
    assert first["text"]["text"] == "a" * 2970
    assert second["text"]["text"] == "<https://onpe.example/guide|le guide de l'observatoire>"
    first, second = RENDER.blocks(Reply.card([Para.of("b" * 2998 + "&&")]))
    assert first["text"]["text"] == "b" * 2998 and second["text"]["text"] == "&amp;&amp;"


def test_a_heading_too_long_for_a_header_is_shown_whole_in_bold() -> None:
    title = "Évaluation du dispositif d'accueil " * 6  # 210 characters typed by a person
    [block] = RENDER.blocks(Reply.card([Heading.of(title)]))
    assert block == {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}


def test_a_reply_too_long_for_one_message_goes_in_several_each_within_slacks_limits() -> None:
    items = [f"F-{n} — " + "Comment saisir la cellule de recueil ? " * 7 for n in range(200)]  # 55,000 characters
    reply = Reply.card([Heading.of("FAQ (200 entrées)"), Bullets.of(items)])
    messages = RENDER.messages(reply)
    assert len(messages) == 5
    for text, blocks in messages:
        assert message_errors({"blocks": blocks}) == [] and 0 < len(text) <= 3000
        assert sum(len(b["text"]["text"]) for b in blocks) <= 12_000
    assert [b for _text, blocks in messages for b in blocks] == RENDER.blocks(reply)
    assert messages[0][0] == render.fallback(reply) and messages[1][0].startswith("• F-")


# -- what Slack refuses (the fake checks every payload as Slack does) ---------------------------------------------


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Approuver", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": text}, **extra}


def modal(**extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": "Soumettre"}, "blocks": [section("Bonjour")],
            **extra}


@pytest.mark.parametrize(("blocks", "error"), [
    ([section("x" * 3001)], "must be 1 to 3000 characters long, is 3001 [json-pointer:/blocks/0/text/text]"),
    ([section("")], "must be 1 to 3000 characters long, is 0 [json-pointer:/blocks/0/text/text]"),
    ([section("x")] * 51, "no more than 50 items allowed, 51 given [json-pointer:/blocks]"),
    ([{"type": "section", "fields": [button()]}], "must be a text object (plain_text or mrkdwn) "
                                                  "[json-pointer:/blocks/0/fields/0]"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11}],
     "must hold 1 to 10 items, holds 11 [json-pointer:/blocks/0/fields]"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}],
     "must be 1 to 2000 characters long, is 2001 [json-pointer:/blocks/0/fields/0/text]"),
    ([{"type": "header", "text": {"type": "mrkdwn", "text": "Titre"}}], "must be plain_text "
                                                                        "[json-pointer:/blocks/0/text/type]"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
     "must be 1 to 150 characters long, is 151 [json-pointer:/blocks/0/text/text]"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}],
     "must hold 1 to 10 items, holds 11 [json-pointer:/blocks/0/elements]"),
    ([{"type": "actions", "elements": [button(action_id=f"a{n}") for n in range(26)]}],
     "must hold 1 to 25 items, holds 26 [json-pointer:/blocks/0/elements]"),
    ([{"type": "actions", "elements": [button("x" * 76)]}],
     "must be 1 to 75 characters long, is 76 [json-pointer:/blocks/0/elements/0/text/text]"),
    ([{"type": "actions", "elements": [button(value="D" * 2001)]}],
     "must be 1 to 2000 characters long, is 2001 [json-pointer:/blocks/0/elements/0/value]"),
    ([{"type": "actions", "elements": [button(style="warning")]}],
     "must be primary or danger [json-pointer:/blocks/0/elements/0/style]"),
    ([{"type": "actions", "elements": [button(), button()]}],
     "duplicate action_id 'approve' [json-pointer:/blocks/0/elements/1/action_id]"),
    ([{"type": "actions", "elements": [{"type": "plain_text_input", "action_id": "v"}]}],
     "an element of type 'plain_text_input' is not allowed here (allowed: button, checkboxes, datepicker, "
     "radio_buttons, static_select, timepicker) [json-pointer:/blocks/0/elements/0/type]"),
    ([{**section("a"), "block_id": "b"}, {**section("b"), "block_id": "b"}],
     "duplicate block_id 'b' [json-pointer:/blocks/1/block_id]"),
    ([{**section("a"), "block_id": "x" * 256}], "must be 1 to 255 characters long, is 256 "
                                                "[json-pointer:/blocks/0/block_id]"),
    ([{**section("a"), "style": "bold"}], "unknown field [json-pointer:/blocks/0/style]"),
    ([{"type": "table", "rows": []}], "unknown block type 'table' [json-pointer:/blocks/0/type]"),
])
def test_slack_refuses_blocks_that_break_its_limits(blocks: list[dict[str, Any]], error: str) -> None:
    assert error in message_errors({"blocks": blocks})


def select(options: int = 3, label: str = "Rapports ODPE", value: str = "odpe_reports") -> dict[str, Any]:
    return {"type": "input", "block_id": "type", "label": {"type": "plain_text", "text": "Type"},
            "element": {"type": "static_select", "action_id": "value",
                        "options": [{"text": {"type": "plain_text", "text": label}, "value": f"{value}{n}"}
                                    for n in range(options)]}}


@pytest.mark.parametrize(("view", "error"), [
    (modal(title={"type": "plain_text", "text": "Déclarer une pratique ins"}),
     "must be 1 to 24 characters long, is 25 [json-pointer:/view/title/text]"),
    (modal(blocks=[select()]), "missing required field [json-pointer:/view/submit]"),
    (modal(close={"type": "plain_text", "text": "Fermer sans rien envoyer"[:24] + "!"}),
     "must be 1 to 24 characters long, is 25 [json-pointer:/view/close/text]"),
    (modal(private_metadata="x" * 3001), "must be 0 to 3000 characters long, is 3001 "
                                         "[json-pointer:/view/private_metadata]"),
    (modal(callback_id="x" * 256), "must be 1 to 255 characters long, is 256 [json-pointer:/view/callback_id]"),
    (modal(blocks=[section("x")] * 101), "no more than 100 items allowed, 101 given [json-pointer:/view/blocks]"),
    ({"type": "home", "blocks": [section("x")] * 101}, "no more than 100 items allowed, 101 given "
                                                         "[json-pointer:/view/blocks]"),
    (modal(submit={"type": "plain_text", "text": "Envoyer"}, blocks=[select(options=101)]),
     "must hold 1 to 100 items, holds 101 [json-pointer:/view/blocks/0/element/options]"),
    (modal(submit={"type": "plain_text", "text": "Envoyer"}, blocks=[select(label="x" * 76)]),
     "must be 1 to 75 characters long, is 76 [json-pointer:/view/blocks/0/element/options/0/text/text]"),
    (modal(submit={"type": "plain_text", "text": "Envoyer"}, blocks=[select(value="v" * 150)]),
     "must be 1 to 150 characters long, is 151 [json-pointer:/view/blocks/0/element/options/0/value]"),
    (modal(submit={"type": "plain_text", "text": "Envoyer"}, blocks=[{
        "type": "input", "label": {"type": "plain_text", "text": "Résumé"}, "hint": {"type": "plain_text",
                                                                                      "text": "x" * 2001},
        "element": {"type": "plain_text_input", "action_id": "value", "max_length": 3001,
                    "placeholder": {"type": "plain_text", "text": "x" * 151}}}]),
     "must be a whole number from 1 to 3000 [json-pointer:/view/blocks/0/element/max_length]"),
    (modal(submit={"type": "plain_text", "text": "Envoyer"}, blocks=[{
        "type": "input", "label": {"type": "plain_text", "text": "x" * 2001},
        "element": {"type": "button", "action_id": "b", "text": {"type": "plain_text", "text": "ok"}}}]),
     "an element of type 'button' is not allowed here"),
])
def test_slack_refuses_views_that_break_its_limits(view: dict[str, Any], error: str) -> None:
    assert any(error in found for found in view_errors(view)), view_errors(view)


def test_every_rule_broken_in_one_input_is_reported() -> None:
    view = modal(submit={"type": "plain_text", "text": "Envoyer"}, blocks=[{
        "type": "input", "label": {"type": "plain_text", "text": "x" * 2001},
        "hint": {"type": "plain_text", "text": "x" * 2001},
        "element": {"type": "plain_text_input", "action_id": "value", "placeholder": {"type": "plain_text",
                                                                                       "text": "x" * 151}}}])
    assert view_errors(view) == [
        "must be 1 to 2000 characters long, is 2001 [json-pointer:/view/blocks/0/label/text]",
        "must be 1 to 2000 characters long, is 2001 [json-pointer:/view/blocks/0/hint/text]",
        "must be 1 to 150 characters long, is 151 [json-pointer:/view/blocks/0/element/placeholder/text]",
    ]


async def test_the_fake_answers_a_refused_payload_as_slack_does() -> None:
    fake = FakeSlack()
    await fake.start()
    client = AsyncWebClient(token="xoxb-fake-token", base_url=fake.api_url)
    try:
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C1", text="x", blocks=[section("x" * 3001)])
        assert refused.value.response["error"] == "invalid_blocks"
        with pytest.raises(SlackApiError) as refused:
            await client.views_open(trigger_id="t", view=modal(title={"type": "plain_text", "text": "x" * 25}))
        assert refused.value.response["error"] == "invalid_arguments"
        assert refused.value.response["response_metadata"]["messages"] == [
            "must be 1 to 24 characters long, is 25 [json-pointer:/view/title/text]"]
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C1", text="x" * 40_001)
        assert refused.value.response["error"] == "msg_too_long"
        with pytest.raises(SlackApiError) as refused:  # each section within its limit, all of them too long
            await client.chat_postMessage(channel="C1", text="x", blocks=[section("x" * 2700)] * 5)
        assert refused.value.response["error"] == "msg_blocks_too_long"
        posted = await client.chat_postMessage(channel="C1", text="Bonjour", blocks=[section("Bonjour")])
        assert posted["ok"] is True
        # An ephemeral answer through a slash command's response URL.
        header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
        async with aiohttp.ClientSession() as session, session.post(
            f"{fake.base_url}/response/1", json={"text": "x", "blocks": [header]}
        ) as answer:
            assert (answer.status, (await answer.json())["error"]) == (400, "invalid_blocks")
        assert fake.responses == []
        assert [c.method for c in fake.invalid] == ["chat.postMessage", "views.open", "chat.postMessage",
                                                    "chat.postMessage", "response_url"]
        assert [c.method for c in fake.calls] == ["chat.postMessage:invalid", "views.open:invalid",
                                                  "chat.postMessage:invalid", "chat.postMessage:invalid",
                                                  "chat.postMessage"]
    finally:
        await fake.stop()


def test_review_buttons_follow_the_allowed_actions() -> None:
    blocks = RENDER.review_blocks(Reply.text("D-1"), "D-1", "État : complément demandé", ["approve", "reject"])
    actions = blocks[-1]
    assert [e["action_id"] for e in actions["elements"]] == ["review:approve", "review:reject"]
    assert [e["value"] for e in actions["elements"]] == ["D-1", "D-1"]
    assert blocks[-2]["elements"][0]["text"] == "État : complément demandé"
