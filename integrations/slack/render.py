"""Replies as Slack messages: mrkdwn with the user's text escaped, Block Kit sections, review buttons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.i18n import _
from bot.messages import Reply, Tone
from bot.rich import Block, Bullets, Heading, Para, Span

SECTION_LIMIT = 3000  # characters of a section's text
HEADER_LIMIT = 150
MAX_BLOCKS = 50  # in one message
# The text of all a message's blocks together: Slack refuses more than about 13,000 characters with
# `msg_blocks_too_long`, a limit it does not document (slackapi/bolt-js#2509); what is longer goes in several messages.
MESSAGE_CHARS = 12_000
SLACK_USER_PREFIX = "slack:"


def escape(text: str) -> str:
    """What Slack reads as markup in mrkdwn (&, <, >) written as entities: user text stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_user(user: str) -> str | None:
    """The Slack id of a person's id (`slack:U123` → `U123`); None for a person of another platform."""
    return user.removeprefix(SLACK_USER_PREFIX) if user.startswith(SLACK_USER_PREFIX) else None


@dataclass(frozen=True)
class Renderer:
    """Renders for one bot: a command the core shows as `!aide` reads `/odpe aide` in Slack, where the slash
    command works in every conversation (the prefix still works in the bot's DM)."""

    prefix: str = "!"
    slash: str = "/odpe"

    def span(self, item: Span) -> str:
        if item.style == "mention" and item.user and slack_user(item.user):
            return f"<@{slack_user(item.user)}>"
        text = item.text
        if item.style == "code" and self.prefix and text.startswith(self.prefix) and len(text) > len(self.prefix):
            text = f"{self.slash} {text.removeprefix(self.prefix)}"
        text = escape(text)
        if item.style == "code":
            text = f"`{text.replace('`', 'ʼ')}`"
        elif item.style == "bold" and text.strip():
            text = f"*{text}*"
        elif item.style == "italic" and text.strip():
            text = f"_{text}_"
        if item.href:
            text = f"<{escape(item.href)}|{text}>"
        return text

    def spans(self, items: Sequence[Span]) -> str:
        return "".join(self.span(s) for s in items)

    def mrkdwn(self, block: Block) -> str:
        if isinstance(block, Para):
            return self.spans(block.spans)
        if isinstance(block, Heading):
            return f"*{self.spans(block.spans)}*"
        if isinstance(block, Bullets):
            return "\n".join("• " + self.spans(item) for item in block.items)
        return "\n".join(f"*{escape(label)}* : {self.spans(value)}" for label, value in block.rows)

    def blocks(self, reply: Reply) -> list[dict[str, Any]]:
        """The reply's blocks: a heading first becomes a header (a bold line if it is too long for one), the rest
        mrkdwn sections, as many as Slack's limit on a section asks: nothing is cut off."""
        rendered: list[dict[str, Any]] = []
        for index, block in enumerate(reply.body.blocks):
            if isinstance(block, Heading) and index == 0 and 0 < len(block.plain().strip()) <= HEADER_LIMIT:
                rendered.append(header(block.plain()))
                continue
            warning = ":warning: " if reply.tone is Tone.ERROR and index == 0 else ""
            rendered.extend(section(part) for part in split(warning + self.mrkdwn(block)) if part.strip())
        return rendered

    def messages(self, reply: Reply) -> list[tuple[str, list[dict[str, Any]]]]:
        """The reply in as many messages as Slack's limits on one message ask (most often one), each as its
        notification text and its blocks."""
        return [(fallback(reply) if index == 0 else continued(blocks), blocks)
                for index, blocks in enumerate(group(self.blocks(reply)))]

    def review_blocks(self, reply: Reply, subject: str, state: str, actions: Sequence[str]) -> list[dict[str, Any]]:
        """A review card: the card, its state in words, and a button for each action its state allows. The card is
        one message, updated in place: it holds what one message can (an item's fields always fit)."""
        rendered = group(self.blocks(reply), MAX_BLOCKS - 2, MESSAGE_CHARS - SECTION_LIMIT)[0]
        rendered.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(state)}]})
        buttons = []
        for action, style in REVIEW_BUTTONS:
            if action not in actions:
                continue
            button: dict[str, Any] = {
                "type": "button",
                "action_id": f"review:{action}",
                "value": subject,
                "text": {"type": "plain_text", "text": button_label(action)},
            }
            if style:
                button["style"] = style
            buttons.append(button)
        if buttons:
            rendered.append({"type": "actions", "block_id": f"review:{subject}", "elements": buttons})
        return rendered


def split(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """`text` in parts of at most `limit` characters, cut between lines, else between words, else anywhere but
    inside Slack's markup (a link, a mention, an entity); the line break or space at a cut is all that is left
    out."""
    parts: list[str] = []
    while len(text) > limit:
        cut, skip = _cut(text, limit)
        parts.append(text[:cut])
        text = text[cut + skip:]
    parts.append(text)
    return parts


def _cut(text: str, limit: int) -> tuple[int, int]:
    end = _outside_markup(text, limit) or limit  # markup longer than a whole part: cut it anyway
    for separator in ("\n", " "):  # in the second half: a part is not made short for one long word
        cut = text.rfind(separator, limit // 2, end + 1)
        if cut > 0 and _outside_markup(text, cut) == cut:
            return cut, 1
    return end, 0


def _outside_markup(text: str, index: int) -> int:
    """`index`, or the start of the `<…>` or `&…;` it falls inside of."""
    opened = text.rfind("<", 0, index)
    if opened > text.rfind(">", 0, index):
        index = opened
    entity = text.rfind("&", max(0, index - 4), index)
    if entity != -1 and ";" not in text[entity:index]:
        index = entity
    return index


def group(blocks: list[dict[str, Any]], most: int = MAX_BLOCKS,
          chars: int = MESSAGE_CHARS) -> list[list[dict[str, Any]]]:
    """`blocks` in messages of at most `most` blocks and `chars` characters of text, in order."""
    messages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for block in blocks:
        length = len(block_text(block))
        if messages[-1] and (len(messages[-1]) == most or size + length > chars):
            messages.append([])
            size = 0
        messages[-1].append(block)
        size += length
    return messages


def block_text(block: dict[str, Any]) -> str:
    text = block.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


def section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        text = text[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def header(text: str) -> dict[str, Any]:
    if len(text) > HEADER_LIMIT:
        text = text[: HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def fallback(reply: Reply) -> str:
    """The text of the notification (and of clients that show no blocks)."""
    return escape(reply.plain())[:SECTION_LIMIT]


def continued(blocks: list[dict[str, Any]]) -> str:
    """The notification of a message that goes on with a reply too long for one: the beginning of its text."""
    return "\n".join(block_text(block) for block in blocks)[:SECTION_LIMIT]


# The review actions a button can take, the reaction key the core's handler understands for each, and style.
# The review card's buttons, in order, with Slack's style (the reactions that do the same: commands.review).
REVIEW_BUTTONS: tuple[tuple[str, str | None], ...] = (
    ("claim", None),
    ("approve", "primary"),
    ("request_info", None),
    ("reject", "danger"),
)


def button_label(action: str) -> str:
    labels = {
        "claim": _("✋ Prendre en charge"),
        "approve": _("✅ Approuver"),
        "request_info": _("❓ Demander un complément"),
        "reject": _("❌ Refuser"),
    }
    return str(labels[action])
