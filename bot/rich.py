"""A small structured text model (paragraphs, headings, lists, fields) rendered as plain text or escaped HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Style = Literal["plain", "bold", "italic", "code"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"
    href: str | None = None

    def plain(self) -> str:
        return f"`{self.text}`" if self.style == "code" else self.text

    def html(self) -> str:
        inner = html.escape(self.text).replace("\n", "<br>")
        if self.style == "bold":
            inner = f"<strong>{inner}</strong>"
        elif self.style == "italic":
            inner = f"<em>{inner}</em>"
        elif self.style == "code":
            inner = f"<code>{inner}</code>"
        if self.href:
            inner = f'<a href="{html.escape(self.href, quote=True)}">{inner}</a>'
        return inner


def bold(text: str) -> Span:
    return Span(text, "bold")


def code(text: str) -> Span:
    return Span(text, "code")


def italic(text: str) -> Span:
    return Span(text, "italic")


def _spans(content: str | Span | Sequence[str | Span]) -> tuple[Span, ...]:
    if isinstance(content, str):
        return (Span(content),)
    if isinstance(content, Span):
        return (content,)
    return tuple(Span(part) if isinstance(part, str) else part for part in content)


def _plain(spans: Sequence[Span]) -> str:
    return "".join(s.plain() for s in spans)


def _html(spans: Sequence[Span]) -> str:
    return "".join(s.html() for s in spans)


@dataclass(frozen=True)
class Para:
    spans: tuple[Span, ...]

    @classmethod
    def of(cls, content: str | Span | Sequence[str | Span]) -> Para:
        return cls(_spans(content))

    def plain(self) -> str:
        return _plain(self.spans)

    def html(self) -> str:
        return f"<p>{_html(self.spans)}</p>"


@dataclass(frozen=True)
class Heading:
    spans: tuple[Span, ...]

    @classmethod
    def of(cls, content: str | Span | Sequence[str | Span]) -> Heading:
        return cls(_spans(content))

    def plain(self) -> str:
        return _plain(self.spans)

    def html(self) -> str:
        return f"<h4>{_html(self.spans)}</h4>"


@dataclass(frozen=True)
class Bullets:
    items: tuple[tuple[Span, ...], ...]

    @classmethod
    def of(cls, items: Sequence[str | Span | Sequence[str | Span]]) -> Bullets:
        return cls(tuple(_spans(i) for i in items))

    def plain(self) -> str:
        return "\n".join("  • " + _plain(item).replace("\n", "\n    ") for item in self.items)

    def html(self) -> str:
        return "<ul>" + "".join(f"<li>{_html(item)}</li>" for item in self.items) + "</ul>"


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

    def html(self) -> str:
        rows = "<br>".join(f"<strong>{html.escape(label)}</strong> : {_html(value)}" for label, value in self.rows)
        return f"<p>{rows}</p>"


Block = Para | Heading | Bullets | Fields


@dataclass(frozen=True)
class Doc:
    blocks: tuple[Block, ...]

    def plain(self) -> str:
        return "\n".join(b.plain() for b in self.blocks)

    def html(self) -> str:
        return "".join(b.html() for b in self.blocks)

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
