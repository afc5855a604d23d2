"""The glossary spells the seeds' lists once, with stable keys, and shows them in the reader's language."""

from __future__ import annotations

import re

import pytest

from bot import glossary
from bot.glossary import (
    ARCHIVING_CRITERIA,
    DATA_NATURES,
    DOCUMENT_TYPES,
    INTERVENTION_TYPES,
    LISTS,
    PRACTICE_CONDITIONS,
    PRACTICE_LIMITS,
    PUBLICS,
    RELAYS,
    SCALES,
    THEMES,
    Term,
    TermList,
)
from bot.i18n import LazyText, language

ALL_LISTS = (*LISTS.values(), ARCHIVING_CRITERIA)
SNAKE_CASE = re.compile(r"[a-z0-9]+(_[a-z0-9]+)*")


def french_labels(term_list: TermList) -> list[str]:
    with language("fr"):
        return [str(term.label) for term in term_list]


@pytest.mark.parametrize("term_list", ALL_LISTS, ids=lambda term_list: term_list.name)
def test_keys_are_unique_snake_case_ascii(term_list: TermList) -> None:
    keys = term_list.keys()
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert key.isascii() and SNAKE_CASE.fullmatch(key), key


@pytest.mark.parametrize("term_list", ALL_LISTS, ids=lambda term_list: term_list.name)
def test_every_label_reads_in_french_and_in_english(term_list: TermList) -> None:
    for term in term_list:
        with language("fr"):
            assert str(term.label) == term.label.message
            assert str(term.label).strip()
        with language("en"):
            assert str(term.label).strip()


def test_a_duplicate_key_is_refused_when_the_list_is_declared() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        TermList("twice", (Term("other", LazyText("Autre")), Term("other", LazyText("Divers"))))


def test_document_types_are_the_six_of_the_seed_in_its_order() -> None:
    assert french_labels(DOCUMENT_TYPES) == [
        "Données statistiques",
        "Études et recherches",
        "Guides méthodologiques",
        "Rapports ODPE",
        "Fiches de dispositifs innovants",
        "Documents administratifs et constitutifs",
    ]
    assert DOCUMENT_TYPES.keys()[0] == "statistical_data"


def test_data_natures_offer_quantitative_qualitative_and_mixed() -> None:
    assert DATA_NATURES.keys() == ("quantitative", "qualitative", "mixte")
    assert DATA_NATURES.label("mixte") == "Mixte (quantitative et qualitative)"


def test_label_of_an_unknown_key_is_the_key_so_old_data_still_displays() -> None:
    assert THEMES.label("retired_theme") == "retired_theme"
    assert THEMES.get("retired_theme") is None
    assert "retired_theme" not in THEMES


def test_label_of_a_known_key_is_its_french_label() -> None:
    with language("fr"):
        assert PUBLICS.label("young_adults") == "Jeunes majeurs"
        assert SCALES.get("departmental") == Term("departmental", LazyText("Départementale"))


def test_a_label_without_translation_falls_back_to_french() -> None:
    untranslated = TermList("test", (Term("sample", LazyText("Libellé que le catalogue anglais ne connaît pas")),))
    with language("en"):
        assert untranslated.label("sample") == "Libellé que le catalogue anglais ne connaît pas"


def test_seed_004_lists_hold_what_a_reader_of_the_seed_expects() -> None:
    assert french_labels(SCALES) == ["Nationale", "Régionale", "Départementale", "Locale"]
    themes = french_labels(THEMES)
    assert {"Violences sexuelles", "Violences conjugales", "Harcèlement", "Santé mentale"} <= set(themes)
    publics = french_labels(PUBLICS)
    assert {"0 à 4 ans", "4 à 12 ans", "Adolescents", "Jeunes majeurs", "Tous publics"} <= set(publics)
    interventions = french_labels(INTERVENTION_TYPES)
    assert {"Diagnostic de situation", "Accueil d'urgence", "Placement familial", "Accueil par des tiers"} <= set(
        interventions
    )
    assert french_labels(RELAYS) == ["Association", "Département", "Autre"]


def test_other_comes_last_where_the_seed_has_it() -> None:
    for term_list in (INTERVENTION_TYPES, THEMES, PUBLICS, RELAYS):
        assert term_list.keys()[-1] == "other"
        assert term_list.label("other") == "Autre"


def test_ocr_garbage_of_the_seed_is_not_shown_to_readers() -> None:
    shown = {label for term_list in ALL_LISTS for label in french_labels(term_list)}
    for garbage in ("IBD", "BSI", "Accueil garderie-ventrille", "Ciel-Ciel-école", "Ciel numérique"):
        assert garbage not in shown


def test_practice_form_conditions_and_limits_follow_seed_004() -> None:
    assert len(PRACTICE_CONDITIONS) == 3
    with language("fr"):
        assert str(PRACTICE_CONDITIONS[0]).startswith("Chaque auto-déclarant porte la responsabilité")
        assert str(glossary.PRACTICE_ACCEPTANCE) == "J'ai lu et j'accepte les conditions ci-dessus"
    assert dict(PRACTICE_LIMITS) == {"entity_name": 100, "title": 100, "description": 1000}


def test_archiving_criteria_and_featuring_rule_follow_seed_000() -> None:
    assert len(ARCHIVING_CRITERIA) == 3
    with language("fr"):
        assert all(label.startswith("Document ") for label in french_labels(ARCHIVING_CRITERIA))
        assert "garanties méthodologiques" in str(glossary.FEATURING_RULE)


def test_lists_are_found_by_their_name_for_search_facets() -> None:
    assert all(name == term_list.name for name, term_list in LISTS.items())
    assert set(LISTS) == {
        "document_types",
        "data_natures",
        "scales",
        "intervention_types",
        "themes",
        "publics",
        "relays",
    }
