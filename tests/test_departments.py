"""Tests for the département reference list and its search helpers."""

from __future__ import annotations

import pytest

from storage import departments
from storage.departments import Department

REGIONS_SINCE_2016 = {
    "Auvergne-Rhône-Alpes",
    "Bourgogne-Franche-Comté",
    "Bretagne",
    "Centre-Val de Loire",
    "Corse",
    "Grand Est",
    "Hauts-de-France",
    "Île-de-France",
    "Normandie",
    "Nouvelle-Aquitaine",
    "Occitanie",
    "Pays de la Loire",
    "Provence-Alpes-Côte d'Azur",
    "Guadeloupe",
    "Martinique",
    "Guyane",
    "La Réunion",
    "Mayotte",
}


def codes(found: list[Department]) -> list[str]:
    return [d.code for d in found]


def test_reference_list_has_the_101_departements_with_unique_codes() -> None:
    all_codes = [d.code for d in departments.all_departments()]
    assert len(all_codes) == 101
    assert len(set(all_codes)) == 101


def test_reference_list_uses_exactly_the_18_current_regions() -> None:
    assert {d.region for d in departments.all_departments()} == REGIONS_SINCE_2016


def test_reference_list_is_in_code_order_with_corsica_between_19_and_21() -> None:
    all_codes = [d.code for d in departments.all_departments()]
    assert all_codes[:3] == ["01", "02", "03"]
    assert all_codes[18:22] == ["19", "2A", "2B", "21"]
    assert all_codes[-5:] == ["971", "972", "973", "974", "976"]
    assert "20" not in all_codes and "975" not in all_codes


@pytest.mark.parametrize(
    ("code", "name", "region"),
    [
        ("03", "Allier", "Auvergne-Rhône-Alpes"),
        ("21", "Côte-d'Or", "Bourgogne-Franche-Comté"),
        ("22", "Côtes-d'Armor", "Bretagne"),
        ("2A", "Corse-du-Sud", "Corse"),
        ("2B", "Haute-Corse", "Corse"),
        ("44", "Loire-Atlantique", "Pays de la Loire"),
        ("63", "Puy-de-Dôme", "Auvergne-Rhône-Alpes"),
        ("67", "Bas-Rhin", "Grand Est"),
        ("90", "Territoire de Belfort", "Bourgogne-Franche-Comté"),
        ("93", "Seine-Saint-Denis", "Île-de-France"),
        ("95", "Val-d'Oise", "Île-de-France"),
        ("13", "Bouches-du-Rhône", "Provence-Alpes-Côte d'Azur"),
        ("974", "La Réunion", "La Réunion"),
        ("976", "Mayotte", "Mayotte"),
    ],
)
def test_spot_checked_rows_have_official_name_and_region(code: str, name: str, region: str) -> None:
    assert departments.get(code) == Department(code, name, region)


def test_names_use_the_plain_ascii_apostrophe() -> None:
    for department in departments.all_departments():
        assert "’" not in department.name and "’" not in department.region


def test_region_sizes_match_the_2016_map() -> None:
    sizes: dict[str, int] = {}
    for department in departments.all_departments():
        sizes[department.region] = sizes.get(department.region, 0) + 1
    assert sizes["Auvergne-Rhône-Alpes"] == 12
    assert sizes["Occitanie"] == 13
    assert sizes["Nouvelle-Aquitaine"] == 12
    assert sizes["Grand Est"] == 10
    assert sizes["Île-de-France"] == 8
    assert sizes["Bretagne"] == 4


@pytest.mark.parametrize(
    ("text", "expected"), [("3", "03"), ("03", "03"), ("2a", "2A"), ("2B", "2B"), (" 971 ", "971")]
)
def test_normalize_code_accepts_loose_spellings(text: str, expected: str) -> None:
    assert departments.normalize_code(text) == expected


@pytest.mark.parametrize("text", ["20", "96", "975", "0", "003", "2C", "Allier", ""])
def test_normalize_code_rejects_codes_that_are_no_departement(text: str) -> None:
    assert departments.normalize_code(text) is None


def test_get_returns_none_for_unknown_code() -> None:
    assert departments.get("99") is None


def test_search_by_code_without_leading_zero() -> None:
    assert codes(departments.search("3")) == ["03"]


def test_search_ignores_accents_and_case() -> None:
    assert codes(departments.search("ALLIER")) == ["03"]
    assert codes(departments.search("puy de dome")) == ["63"]
    assert codes(departments.search("FINISTERE")) == ["29"]


def test_cotes_finds_cotes_d_armor() -> None:
    assert codes(departments.search("Côtes")) == ["22"]
    assert codes(departments.search("cotes")) == ["22"]


def test_cote_finds_cote_d_or_and_cotes_d_armor() -> None:
    assert codes(departments.search("cote")) == ["21", "22"]


def test_exact_name_comes_before_prefix_matches() -> None:
    assert codes(departments.search("savoie")) == ["73", "74"]
    assert codes(departments.search("loire"))[0] == "42"
    assert codes(departments.search("Loire"))[1:] == ["37", "43", "44", "45", "49", "71"]


def test_seine_finds_every_seine_departement() -> None:
    assert codes(departments.search("seine")) == ["76", "77", "92", "93"]


def test_search_matches_several_word_prefixes() -> None:
    assert codes(departments.search("haute sav")) == ["74"]
    assert codes(departments.search("val d'oise")) == ["95"]


def test_search_by_region_when_no_name_matches() -> None:
    assert codes(departments.search("bretagne")) == ["22", "29", "35", "56"]
    assert codes(departments.search("Île-de-France")) == ["75", "77", "78", "91", "92", "93", "94", "95"]


def test_name_match_wins_over_region() -> None:
    assert codes(departments.search("guadeloupe")) == ["971"]


def test_search_returns_nothing_for_blank_or_unknown_query() -> None:
    assert departments.search("   ") == []
    assert departments.search("atlantide") == []


@pytest.mark.parametrize(("typo", "expected"), [("alier", "03"), ("girond", "33"), ("reunion", "974")])
def test_suggest_proposes_the_closest_name_for_a_typo(typo: str, expected: str) -> None:
    assert codes(departments.suggest(typo))[0] == expected


def test_suggest_maps_former_corsican_code_to_both_halves() -> None:
    assert codes(departments.suggest("20")) == ["2A", "2B"]


def test_suggest_returns_nothing_for_unrelated_text() -> None:
    assert departments.suggest("xyz") == []
    assert departments.suggest("") == []
