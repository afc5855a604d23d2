"""Reference list of the 101 French départements, with lookup by code, name or region and typo suggestions."""

from __future__ import annotations

import csv
import difflib
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

from storage.normalize import fold

_CODE_SHAPE = re.compile(r"\d{1,3}|2[AB]")
# Below this similarity difflib starts proposing unrelated short names ("ain" for "aisne").
_SUGGEST_CUTOFF = 0.7


@dataclass(frozen=True)
class Department:
    """A département: canonical code ("03", "2A", "971"), official name and current region."""

    code: str
    name: str
    region: str


def _code_order(code: str) -> tuple[int, str]:
    # Corsica's 2A/2B replaced the former 20 and must sort between 19 and 21.
    return (int(code) if code.isdigit() else 20, code)


@functools.cache
def all_departments() -> tuple[Department, ...]:
    """Every département, in code order (01…19, 2A, 2B, 21…95, 971…976)."""
    text = resources.files("storage").joinpath("data/departements.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text, newline=""))
    departments = [Department(row["code"], row["name"], row["region"]) for row in rows]
    return tuple(sorted(departments, key=lambda d: _code_order(d.code)))


@functools.cache
def _by_code() -> dict[str, Department]:
    return {d.code: d for d in all_departments()}


@functools.cache
def _folded_names() -> tuple[tuple[Department, str], ...]:
    return tuple((d, fold(d.name)) for d in all_departments())


def normalize_code(text: str) -> str | None:
    """Canonical code for user input such as "3", "03", "2a" or " 971 ", or None if it is no département."""
    candidate = text.strip().upper()
    if not _CODE_SHAPE.fullmatch(candidate):
        return None
    if len(candidate) == 1:
        candidate = "0" + candidate
    return candidate if candidate in _by_code() else None


def get(code: str) -> Department | None:
    """The département with this code, written loosely ("3", "2a", " 971 "), or None."""
    canonical = normalize_code(code)
    return _by_code()[canonical] if canonical is not None else None


def _words_match(query_words: list[str], department: Department, folded: str) -> bool:
    name_words = folded.split()
    return all(
        any(word.startswith(q) for word in name_words) or normalize_code(q) == department.code for q in query_words
    )


def _named(folded_query: str) -> Department | None:
    """The exact-name rule: the département whose whole name is the query, e.g. « Savoie » among Savoie and
    Haute-Savoie, or « Loire » among Loire, Haute-Loire, Loire-Atlantique…"""
    return next((d for d, folded_name in _folded_names() if folded_name == folded_query), None)


def search(query: str) -> list[Department]:
    """Départements matching a code, a name (accents, case and punctuation ignored) or, failing that, a region.

    The exact name comes first, then prefix matches on the name's words in code order.
    """
    department = get(query)
    if department is not None:
        return [department]
    folded_query = fold(query)
    if not folded_query:
        return []
    query_words = folded_query.split()

    named = _named(folded_query)
    partial = [
        candidate
        for candidate, folded_name in _folded_names()
        if candidate != named and _words_match(query_words, candidate, folded_name)
    ]
    if named or partial:
        return [named, *partial] if named else partial

    # Regions are only a fallback so that "corse" or "guadeloupe" still resolve to the département names.
    return [
        candidate
        for candidate in all_departments()
        if fold(candidate.region) == folded_query
        or all(any(w.startswith(q) for w in fold(candidate.region).split()) for q in query_words)
    ]


def resolve(query: str) -> Department | None:
    """The one département `query` designates: by its code, its exact name, or as the only match of `search`;
    None when there is none, or a choice to make (« seine »)."""
    matches = search(query)
    if len(matches) == 1:
        return matches[0]
    return _named(fold(query)) if matches else None


def suggest(query: str, limit: int = 3) -> list[Department]:
    """Départements whose name is close to a misspelt query ("alier" -> Allier), best first."""
    compact_query = fold(query).replace(" ", "")
    if not compact_query:
        return []
    # The pre-1976 Corsican code is still typed by habit.
    if compact_query == "20":
        return [_by_code()["2A"], _by_code()["2B"]]
    # Comparing without spaces makes "cotesdarmor" and "cotes d armor" equally close to Côtes-d'Armor.
    by_compact_name = {folded.replace(" ", ""): d for d, folded in _folded_names()}
    matches = difflib.get_close_matches(compact_query, by_compact_name, n=limit, cutoff=_SUGGEST_CUTOFF)
    return [by_compact_name[match] for match in matches]
