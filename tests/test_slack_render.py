"""What Slack users read: the core's replies as mrkdwn and Block Kit, their own text kept as text."""

from __future__ import annotations

from bot.messages import Reply
from bot.rich import Bullets, Fields, Heading, Para, Span, bold, code, mention
from integrations.slack import render

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


def test_an_error_is_marked_and_long_text_is_cut_within_slacks_limits() -> None:
    reply = Reply.error("x" * 5000)
    [block] = RENDER.blocks(reply)
    assert block["text"]["text"].startswith(":warning: x") and len(block["text"]["text"]) == 3000


def test_review_buttons_follow_the_allowed_actions() -> None:
    blocks = RENDER.review_blocks(Reply.text("D-1"), "D-1", "État : complément demandé", ["approve", "reject"])
    actions = blocks[-1]
    assert [e["action_id"] for e in actions["elements"]] == ["review:approve", "review:reject"]
    assert [e["value"] for e in actions["elements"]] == ["D-1", "D-1"]
    assert blocks[-2]["elements"][0]["text"] == "État : complément demandé"
