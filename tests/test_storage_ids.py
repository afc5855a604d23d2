"""Readable ids: the forms people type, the canonical form printed, and what each prefix points to."""

from __future__ import annotations

import pytest

from storage.ids import ReadableId, parse_readable_id


@pytest.mark.parametrize("text", ["D-12", "d12", "D 12", " d-12 ", "D–12", "D-012", "d - 12"])
def test_readable_ids_parse_forms(text: str) -> None:
    assert parse_readable_id(text) == ReadableId("D", 12)


@pytest.mark.parametrize(
    "text", ["", "D", "12", "X-12", "D-0", "D--12", "DD-12", "D-12-3", "D-12 et plus", "le D-12", "D-1.5"]
)
def test_text_that_is_not_exactly_one_id_is_refused(text: str) -> None:
    assert parse_readable_id(text) is None


@pytest.mark.parametrize(("text", "printed"), [("p7", "P-7"), ("q 3", "Q-3"), ("E-4", "E-4"), ("d-0012", "D-12")])
def test_readable_ids_print_in_canonical_form(text: str, printed: str) -> None:
    parsed = parse_readable_id(text)
    assert parsed is not None
    assert str(parsed) == printed
    assert parse_readable_id(str(parsed)) == parsed


def test_prefixes_map_to_kinds_and_tables() -> None:
    mapping = {
        prefix: (rid.kind, rid.table, rid.item_kind)
        for prefix in "DPQE"
        if (rid := parse_readable_id(f"{prefix}-1")) is not None
    }
    assert mapping == {
        "D": ("document", "item", "document"),
        "P": ("practice", "item", "practice"),
        "Q": ("question", "question", None),
        "E": ("event", "event", None),
    }


def test_readable_id_is_built_from_a_kind() -> None:
    assert ReadableId.of("question", 3) == ReadableId("Q", 3)
    assert ReadableId.of("practice", 7) == ReadableId("P", 7)


@pytest.mark.parametrize(("prefix", "number"), [("X", 1), ("D", 0), ("D", -4)])
def test_impossible_readable_ids_cannot_be_made(prefix: str, number: int) -> None:
    with pytest.raises(ValueError):
        ReadableId(prefix, number)  # type: ignore[arg-type]


def test_readable_ids_are_values() -> None:
    assert {ReadableId("D", 1), ReadableId("D", 1), ReadableId("P", 1)} == {ReadableId("D", 1), ReadableId("P", 1)}
