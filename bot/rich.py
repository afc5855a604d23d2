"""A small structured text model (paragraphs, headings, lists, fields) rendered as plain text or escaped HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

UserLink = Callable[[str], str]
Style = Literal["plain", "bold", "italic", "code", "mention"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"
    href: str | None = None
    user: str | None = None  # for a mention: the platform id of the person named (integrations make it a pill)

    def plain(self) -> str:
        return f"`{self.text}`" if self.style == "code" else self.text

    def html(self, link_user: UserLink | None = None) -> str:
        inner = html.escape(self.text).replace("\n", "<br>")
        if self.style == "bold":
            inner = f"<strong>{inner}</strong>"
        elif self.style == "italic":
            inner = f"<em>{inner}</em>"
        elif self.style == "code":
            inner = f"<code>{inner}</code>"
        # How a mention links to its person is the platform's business (a Matrix pill, …).
        href = self.href or (link_user(self.user) if self.user and link_user else None)
        if href:
            inner = f'<a href="{html.escape(href, quote=True)}">{inner}</a>'
        return inner


def bold(text: str) -> Span:
    return Span(text, "bold")


def code(text: str) -> Span:
    return Span(text, "code")


def italic(text: str) -> Span:
    return Span(text, "italic")


def mention(user: str, name: str) -> Span:
    return Span(name, "mention", user=user)


def _spans(content: str | Span | Sequence[str | Span]) -> tuple[Span, ...]:
    if isinstance(content, str):
        return (Span(content),)
    if isinstance(content, Span):
        return (content,)
    return tuple(Span(part) if isinstance(part, str) else part for part in content)


def _plain(spans: Sequence[Span]) -> str:
    return "".join(s.plain() for s in spans)


def _html(spans: Sequence[Span], link_user: UserLink | None = None) -> str:
    return "".join(s.html(link_user) for s in spans)


@dataclass(frozen=True)
class Para:
    spans: tuple[Span, ...]

    @classmethod
    def of(cls, content: str | Span | Sequence[str | Span]) -> Para:
        return cls(_spans(content))

    def plain(self) -> str:
        return _plain(self.spans)

    def html(self, link_user: UserLink | None = None) -> str:
        return f"<p>{_html(self.spans, link_user)}</p>"


@dataclass(frozen=True)
class Heading:
    spans: tuple[Span, ...]

    @classmethod
    def of(cls, content: str | Span | Sequence[str | Span]) -> Heading:
        return cls(_spans(content))

    def plain(self) -> str:
        return _plain(self.spans)

    def html(self, link_user: UserLink | None = None) -> str:
        return f"<h4>{_html(self.spans, link_user)}</h4>"


@dataclass(frozen=True)
class Bullets:
    items: tuple[tuple[Span, ...], ...]

    @classmethod
    def of(cls, items: Sequence[str | Span | Sequence[str | Span]]) -> Bullets:
        return cls(tuple(_spans(i) for i in items))

    def plain(self) -> str:
        return "\n".join("  • " + _plain(item).replace("\n", "\n    ") for item in self.items)

    def html(self, link_user: UserLink | None = None) -> str:
        return "<ul>" + "".join(f"<li>{_html(item, link_user)}</li>" for item in self.items) + "</ul>"


@dataclass(frozen=True)
class Fields:
    """Label/value pairs, as on a contact card."""

    rows: tuple[tuple[str, tuple[Span, ...]], ...]

    @classmethod
    def of(cls, rows: Sequence[tuple[str, str | Span | Sequence[str | Span]]]) -> Fields:
        return cls(tuple((label, _spans(value)) for label, value in rows))

    def plain(self) -> str:
        lines = []
        for label, value in self.rows:
            text = _plain(value).replace("\n", "\n    ")
            lines.append(f"  {label} : {text}")
        return "\n".join(lines)

    def html(self, link_user: UserLink | None = None) -> str:
        rows = "<br>".join(
            f"<strong>{html.escape(label)}</strong> : {_html(value, link_user)}" for label, value in self.rows
        )
        return f"<p>{rows}</p>"


Block = Para | Heading | Bullets | Fields


@dataclass(frozen=True)
class Doc:
    blocks: tuple[Block, ...]

    def plain(self) -> str:
        return "\n".join(b.plain() for b in self.blocks)

    def html(self, link_user: UserLink | None = None) -> str:
        """Escaped HTML; `link_user` gives the link of a mentioned person (none: the name alone)."""
        return "".join(b.html(link_user) for b in self.blocks)

    def mentions(self) -> list[str]:
        found: list[str] = []
        for block in self.blocks:
            for spans in _block_spans(block):
                found.extend(s.user for s in spans if s.user and s.user not in found)
        return found

    def to_json(self) -> list[dict[str, Any]]:
        """A JSON form, so that a reply can wait in the outbox and be rendered when it is sent."""
        return [_block_json(b) for b in self.blocks]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> Doc:
        return cls(tuple(_block_from_json(b) for b in data))

    def __add__(self, other: Doc) -> Doc:
        return Doc(self.blocks + other.blocks)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, **values: str | Span) -> list[Span]:
    """A whole translated sentence with `{name}` places filled by text or styled spans (e.g. a command)."""
    spans: list[Span] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > position:
            spans.append(Span(template[position : match.start()]))
        value = values[match.group(1)]
        spans.append(value if isinstance(value, Span) else Span(value))
        position = match.end()
    if position < len(template):
        spans.append(Span(template[position:]))
    return spans


def _block_spans(block: Block) -> list[tuple[Span, ...]]:
    if isinstance(block, (Para, Heading)):
        return [block.spans]
    if isinstance(block, Bullets):
        return list(block.items)
    return [value for _label, value in block.rows]


def _spans_json(spans: Sequence[Span]) -> list[dict[str, Any]]:
    return [{k: v for k, v in vars(s).items() if v is not None} for s in spans]


def _spans_from_json(data: list[dict[str, Any]]) -> tuple[Span, ...]:
    return tuple(Span(**item) for item in data)


def _block_json(block: Block) -> dict[str, Any]:
    if isinstance(block, Para):
        return {"para": _spans_json(block.spans)}
    if isinstance(block, Heading):
        return {"heading": _spans_json(block.spans)}
    if isinstance(block, Bullets):
        return {"bullets": [_spans_json(item) for item in block.items]}
    return {"fields": [[label, _spans_json(value)] for label, value in block.rows]}


def _block_from_json(data: dict[str, Any]) -> Block:
    if "para" in data:
        return Para(_spans_from_json(data["para"]))
    if "heading" in data:
        return Heading(_spans_from_json(data["heading"]))
    if "bullets" in data:
        return Bullets(tuple(_spans_from_json(item) for item in data["bullets"]))
    return Fields(tuple((label, _spans_from_json(value)) for label, value in data["fields"]))
