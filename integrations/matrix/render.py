"""Replies as Matrix event content: an m.notice with a plain body and escaped HTML, mentions and relations."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bot.messages import Reply

HTML_FORMAT = "org.matrix.custom.html"
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
_REPLY_FALLBACK = re.compile(r"^(> .*\n?)+\n?", re.MULTILINE)


def notice(reply: Reply, relates_to: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": reply.plain(),
        "format": HTML_FORMAT,
        "formatted_body": reply.html(pill),
        "m.mentions": {"user_ids": reply.body.mentions()},
    }
    if relates_to:
        content["m.relates_to"] = relates_to
    return content


def pill(user_id: str) -> str:
    """A mention as Matrix clients show it: a link to the person's matrix.to address."""
    return f"https://matrix.to/#/{user_id}"


def relation(event_id: str, thread_root: str | None, in_room: bool) -> dict[str, Any] | None:
    """How an answer relates to the message it answers: in its thread, as a reply in a shared room, or plainly
    in a DM (where a quote of every command would only be noise)."""
    if thread_root:
        return {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": event_id},
        }
    if in_room:
        return {"m.in_reply_to": {"event_id": event_id}}
    return None


def thread_root(content: dict[str, Any]) -> str | None:
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        return root if isinstance(root, str) else None
    return None


def is_edit(content: dict[str, Any]) -> bool:
    """Whether `content` changes an earlier message (m.replace: "* nouveau texte", the new one in m.new_content)."""
    relates = content.get("m.relates_to") or {}
    return isinstance(relates, dict) and relates.get("rel_type") == "m.replace"


def strip_reply_fallback(body: str) -> str:
    """A rich reply's body starts with the quoted message ("> <@x> …"): the command is what follows it."""
    return _REPLY_FALLBACK.sub("", body, count=1) if body.startswith("> ") else body


def transaction_id(cause: str, index: int) -> str:
    """The same answer to the same event always has the same transaction id: a retried send is not doubled."""
    digest = hashlib.sha256(cause.encode()).hexdigest()[:24]
    return f"odpe.{digest}.{index}"
