"""Splitting a command line into words: double quotes and French « guillemets » group words; apostrophes don't."""

from __future__ import annotations

from dataclasses import dataclass

_CLOSERS = {'"': '"', "«": "»", "“": "”", "„": "“"}


class QuoteError(ValueError):
    """A quote was opened and never closed."""

    def __init__(self, opener: str) -> None:
        super().__init__(opener)
        self.opener = opener


@dataclass(frozen=True)
class Word:
    text: str
    start: int  # where the word begins in the line, so free text can be taken as typed


@dataclass(frozen=True)
class CommandLine:
    name: str
    words: tuple[Word, ...]
    rest: str  # everything after the command name, as typed

    @property
    def args(self) -> tuple[str, ...]:
        return tuple(w.text for w in self.words)

    def text_from(self, index: int) -> str:
        """The line as typed from word `index` on, for free-text arguments; one quoted word loses its quotes."""
        if index >= len(self.words):
            return ""
        if index == len(self.words) - 1:
            return self.words[index].text
        return self.rest[self.words[index].start :].strip()


def split_words(text: str) -> list[Word]:
    """Words separated by spaces; quotes group words (`nom="Mme Aatar"` is one word). Apostrophes don't."""
    words: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, parts = i, []
        while i < n and not text[i].isspace():
            if text[i] in _CLOSERS:
                end = text.find(_CLOSERS[text[i]], i + 1)
                if end < 0:
                    raise QuoteError(text[i])
                parts.append(text[i + 1 : end].strip())
                i = end + 1
            else:
                parts.append(text[i])
                i += 1
        words.append(Word("".join(parts), start))
    return words


def parse_command(text: str, prefix: str) -> CommandLine | None:
    """The command in `text` if it starts with `prefix`, else None. Raises QuoteError on an open quote."""
    stripped = text.strip()
    if not stripped.startswith(prefix):
        return None
    body = stripped[len(prefix) :]
    if not body or body[0].isspace():
        return None
    name = body.split(None, 1)[0]
    rest = body[len(name) :].strip()
    return CommandLine(name=name, words=tuple(split_words(rest)), rest=rest)
