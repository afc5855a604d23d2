"""Readable identifiers people type (D-12, P-7, Q-3, E-4): parsing, printing, and what they point to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

Prefix = Literal["D", "P", "Q", "E"]
Kind = Literal["document", "practice", "question", "event"]
ItemKind = Literal["document", "practice"]

PREFIXES: tuple[Prefix, ...] = get_args(Prefix)
PREFIX_TO_KIND: dict[Prefix, Kind] = {"D": "document", "P": "practice", "Q": "question", "E": "event"}
KIND_TO_PREFIX: dict[Kind, Prefix] = {kind: prefix for prefix, kind in PREFIX_TO_KIND.items()}
PREFIX_TO_TABLE: dict[Prefix, str] = {"D": "item", "P": "item", "Q": "question", "E": "event"}
ITEM_KINDS: tuple[ItemKind, ...] = get_args(ItemKind)
PREFIX_TO_ITEM_KIND: dict[Prefix, ItemKind] = {"D": "document", "P": "practice"}
_BY_LETTER: dict[str, Prefix] = {prefix: prefix for prefix in PREFIXES}

# People type "D-12", "d12", "D 12" or paste it with a typographic dash; leading zeros are harmless.
_PATTERN = re.compile(r"([DPQE])\s*[-‐‑–—]?\s*(\d{1,9})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReadableId:
    """A readable id such as D-12: a prefix for the kind of thing and its number in that kind."""

    prefix: Prefix
    number: int

    def __post_init__(self) -> None:
        if self.prefix not in PREFIXES:
            raise ValueError(f"unknown readable id prefix {self.prefix!r}")
        if self.number < 1:
            raise ValueError(f"readable id numbers start at 1, got {self.number}")

    def __str__(self) -> str:
        return f"{self.prefix}-{self.number}"

    @property
    def kind(self) -> Kind:
        return PREFIX_TO_KIND[self.prefix]

    @property
    def table(self) -> str:
        return PREFIX_TO_TABLE[self.prefix]

    @property
    def item_kind(self) -> ItemKind | None:
        """The item kind for D-/P- ids (documents and practices share the item table), else None."""
        return PREFIX_TO_ITEM_KIND.get(self.prefix)

    @classmethod
    def of(cls, kind: Kind, number: int) -> ReadableId:
        return cls(KIND_TO_PREFIX[kind], number)


def parse_readable_id(text: str) -> ReadableId | None:
    """The id in `text` ("D-12", "d12", "D 12", " d-12 "), or None when it is not exactly one id."""
    match = _PATTERN.fullmatch(text.strip())
    if match is None:
        return None
    number = int(match.group(2))
    if number < 1:
        return None
    return ReadableId(_BY_LETTER[match.group(1).upper()], number)
