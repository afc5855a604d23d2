"""Full-text search: French analysis, ranking, filters, updates, hostile input, and the same answers on both engines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import Repos
from storage.search import (
    Indexed,
    Query,
    SearchIndex,
    analysis_version,
    analyze,
    entry_id,
    excerpt,
    is_search_table,
    parse_query,
)
from tests.db_fixtures import POSTGRESQL_URL_VARIABLE, DatabaseServer

CORPUS = (
    Indexed(
        "D-1", "document", "Évaluation des informations préoccupantes dans l'Allier",
        "Rapport de l'observatoire départemental sur le circuit des informations préoccupantes et leur évaluation "
        "par la cellule départementale. Mots-clés : cellule, délais, signalement. Auteur : ODPE de l'Allier.",
        department="03", year=2021, doc_type="odpe_reports",
    ),
    Indexed(
        "D-2", "document", "Le placement familial dans le Nord",
        "Données sur les assistants familiaux, leur recrutement et leur âge, et sur les enfants qui leur sont "
        "confiés. Mots-clés : accueil familial, assistants familiaux. Sources : enquête annuelle du département.",
        department="59", year=2019, doc_type="statistical_data",
    ),
    Indexed(
        "D-3", "document", "Scolarité des enfants confiés",
        "Étude du parcours scolaire de chaque élève protégé : ruptures, orientation et accompagnement par les "
        "équipes éducatives. Mots-clés : école, décrochage.",
        department="22", year=2022, doc_type="studies_and_research",
    ),
    Indexed(
        "D-4", "document", "Schéma départemental 2020-2024",
        "Orientations du schéma : prévention, soutien à la parentalité et diversification de l'accueil. "
        "Les évaluations annuelles du schéma sont présentées à l'observatoire.",
        department="2A", year=2020, doc_type="administrative_documents",
    ),
    Indexed(
        "D-5", "document", "Guide méthodologique de l'observatoire",
        "Comment installer un observatoire de la protection de l'enfance : missions, partenaires, indicateurs.",
        department="971", year=2018, doc_type="methodological_guides",
    ),
    Indexed(
        "P-1", "practice", "Accueil de jour pour adolescents",
        "Un accueil éducatif en journée, qui évite des placements et permet une évaluation continue de la "
        "situation familiale. Porteur : association de prévention de l'Allier.",
        department="03", year=2023, theme="education", public="adolescents",
    ),
    Indexed(
        "P-2", "practice", "Groupe de parole des mineurs non accompagnés",
        "Des psychologues animent un groupe de parole sur l'exil et la santé mentale des jeunes accueillis.",
        department="59", year=2022, theme="mental_health", public="unaccompanied_children",
    ),
    Indexed(
        "P-3", "practice", "Parrainage de proximité",
        "Des bénévoles parrainent un enfant placé : week-ends, sorties, aide aux devoirs. Une alternative "
        "souple au placement familial pour garder des liens.",
        department="13", year=2021, theme="parent_child_ties", public="children",
    ),
    Indexed(
        "F-1", "faq", "Qu'est-ce qu'un ODPE ?",
        "L'observatoire départemental de la protection de l'enfance réunit les acteurs du département et "
        "produit des données sur l'enfance en danger.",
    ),
    Indexed(
        "F-2", "faq", "Comment transmettre un document à l'ONPE ?",
        "Avec la commande soumettre : le bot demande le type, le titre, la date et le fichier du document.",
    ),
)

# The answers both engines must give for the corpus above, in this order: the check that they agree.
EXPECTED = {
    "évaluations": ["D-1", "D-4", "P-1"],
    "eleve": ["D-3"],
    "l'enfance": ["F-1", "D-5"],
    "placements familiaux": ["D-2", "P-3", "P-1"],
    "placement": ["D-2", "P-3", "P-1"],
    "observatoire": ["D-5", "F-1", "D-4", "D-1"],
    "observatoire type:faq": ["F-1"],
    "accueil dept:59": ["P-2", "D-2"],
    "accueil": ["P-1", "P-2", "D-4", "D-2"],
    "maltrai": [],
    "enfants confiés": ["D-3", "D-2"],
    "placement zorglub": ["D-2", "P-3", "P-1"],
    "dept:03": ["P-1", "D-1"],
    "annee:2022": ["D-3", "P-2"],
}

HOSTILE = [
    '"',
    "'",
    "AND",
    "OR NEAR(",
    "NOT placement",
    "a:b:c",
    "*",
    "placement*",
    "((",
    "-",
    "^placement",
    "title: placement",
    "{title body}: x",
    "🙂",
    "🙂 placement 👶🏽",
    "x" * 2000,
    "placement " * 300,
    "'; DROP TABLE item;--",
    "\x00\x01",
    "dept:",
    'theme:"',
    "annee:99999",
    "type:",
    "l' d' qu'",
    "le la les de",
]


async def _index(session_repos: Repos) -> SearchIndex:
    index = SearchIndex(session_repos.session)
    await index.put_many(CORPUS)
    return index


@pytest.fixture
async def index(repos: Repos) -> SearchIndex:
    """The corpus indexed in the test's session (the database fixtures empty the index after each test)."""
    return await _index(repos)


async def keys(index: SearchIndex, text: str, limit: int = 10) -> list[str]:
    return [hit.key for hit in await index.search(parse_query(text), limit)]


# --- French analysis -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("évaluations", "évaluation"),
        ("Évaluation", "evaluation"),
        ("élève", "eleve"),
        ("élèves", "ÉLÈVE"),
        ("l'enfance", "enfance"),
        ("l’enfance", "enfance"),
        ("qu’il", "il"),
        ("placements familiaux", "placement familial"),
        ("Cœur", "coeur"),
    ],
)
def test_analysis_equates_french_forms(a: str, b: str) -> None:
    assert analyze(a) == analyze(b)


def test_analysis_stems_drops_stopwords_and_elisions() -> None:
    assert analyze("Les évaluations de l'enfance") == ["evalu", "enfanc"]
    assert analyze("d’un enfant qu'on a placé") == ["enfant", "plac"]
    assert analyze("loi du 14 mars 2016") == ["loi", "14", "mar", "2016"]
    assert analyze("🙂 — « » … ") == []
    assert analyze("x" * 2000) == []  # longer than any word: nobody searches it


# --- Searching -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("évaluations", "D-1"),  # singular in the title
        ("eleve", "D-3"),  # "élève" in the body
        ("l'enfance", "F-1"),
        ("L’ENFANCE", "F-1"),
        ("placements familiaux", "D-2"),  # "placement familial"
        ("préoccupante", "D-1"),
        ("mineur accompagne", "P-2"),
        ("parrainer", "P-3"),
    ],
)
async def test_french_morphology_finds_other_forms(index: SearchIndex, text: str, key: str) -> None:
    assert key in await keys(index, text)


async def test_the_same_answers_as_expected_in_the_same_order(index: SearchIndex) -> None:
    # Run on both engines: the same lists there mean the same results and order on SQLite and PostgreSQL.
    assert {text: await keys(index, text) for text in EXPECTED} == EXPECTED


async def test_a_title_match_ranks_above_a_body_match(index: SearchIndex) -> None:
    # P-3 says "placement" twice in its body, D-2 once in its title.
    hits = await index.search(Query("placement"))
    assert [hit.key for hit in hits] == ["D-2", "P-3", "P-1"]
    assert hits[0].score > 1 > hits[1].score > hits[2].score > 0


async def test_every_title_match_comes_before_every_body_match(index: SearchIndex) -> None:
    for text in ("évaluation", "accueil", "observatoire", "schéma", "enfant"):
        hits = await index.search(Query(text))
        in_title = [any(term in analyze(hit.title) for term in analyze(text)) for hit in hits]
        assert in_title == sorted(in_title, reverse=True), text


async def test_ties_are_broken_by_key_in_number_order(index: SearchIndex) -> None:
    twins = [Indexed(f"D-{n}", "document", "Jumeaux identiques", "Même texte.") for n in (12, 100, 9)]
    await index.put_many(twins)
    assert await keys(index, "jumeaux") == ["D-9", "D-12", "D-100"]


async def test_limit_is_respected(index: SearchIndex) -> None:
    assert len(await index.search(Query("observatoire"), limit=2)) == 2
    assert await index.search(Query("observatoire"), limit=0) == []


async def test_every_word_is_required_before_any_word_is_enough(index: SearchIndex) -> None:
    assert await keys(index, "placement adolescents") == ["P-1"]  # both words; "placement" alone finds 3
    assert await keys(index, "placement zorglub") == await keys(index, "placement")  # no entry has both


async def test_the_last_word_may_be_the_start_of_a_word(index: SearchIndex) -> None:
    assert await keys(index, "parrain") == ["P-3"]
    assert await keys(index, "groupe psycholog") == ["P-2"]
    assert await keys(index, "zz") == []


async def test_hits_say_what_and_where(index: SearchIndex) -> None:
    [hit] = await index.search(Query("psychologues"))
    assert (hit.key, hit.kind, hit.title, hit.department, hit.year) == (
        "P-2", "practice", "Groupe de parole des mineurs non accompagnés", "59", 2022,
    )
    assert "psychologues" in hit.excerpt


async def test_excerpt_is_cut_around_the_first_matching_word(index: SearchIndex) -> None:
    body = ("Une longue introduction sans rapport avec le sujet. " * 8) + "Les maraudes de Mayotte " + (
        "et encore beaucoup de texte après la phrase qui compte. " * 8
    )
    await index.put(Indexed("D-50", "document", "Rapport", body))
    [hit] = await index.search(Query("maraude mayotte"))
    assert hit.excerpt.startswith("…") and hit.excerpt.endswith("…")
    assert "Les maraudes de Mayotte" in hit.excerpt
    assert len(hit.excerpt) <= 162


def test_excerpt_of_a_short_text_is_the_whole_text() -> None:
    assert excerpt("Court\n  texte.") == "Court texte."
    long = "mot " * 100
    cut = excerpt(long)
    assert not cut.startswith("…") and cut.endswith("…") and len(cut) <= 161


# --- Filters ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accueil type:pratique", ["P-1", "P-2"]),
        ("accueil type:practice", ["P-1", "P-2"]),
        ("accueil type:document", ["D-4", "D-2"]),
        ("accueil type:document type:pratique", ["P-1", "P-2", "D-4", "D-2"]),
        ("département type:faq", ["F-1"]),
        ("accueil dept:59", ["P-2", "D-2"]),
        ("accueil dept:Nord", ["P-2", "D-2"]),
        ("accueil dept:nord", ["P-2", "D-2"]),
        ("évaluation dept:03", ["D-1", "P-1"]),
        ("évaluation dept:3", ["D-1", "P-1"]),
        ("évaluation dept:allier", ["D-1", "P-1"]),
        ("scolaire dept:\"Côtes-d'Armor\"", ["D-3"]),
        ("schéma dept:2a", ["D-4"]),
        ("schéma dept:\"Corse-du-Sud\"", ["D-4"]),
        ("accueil theme:education", ["P-1"]),
        ("santé public:unaccompanied_children", ["P-2"]),
        ("évaluation annee:2021", ["D-1"]),
        ("évaluation annee:2020", ["D-4"]),
        ("type:odpe_reports", ["D-1"]),
        ("accueil dept:59 annee:2019 type:document", ["D-2"]),
        ("accueil dept:75", []),
        ("accueil dept:xyz", []),
    ],
)
async def test_filters(index: SearchIndex, text: str, expected: list[str]) -> None:
    assert await keys(index, text) == expected


async def test_filters_alone_list_the_newest_first(index: SearchIndex) -> None:
    assert await keys(index, "type:pratique") == ["P-1", "P-2", "P-3"]
    assert await keys(index, "dept:59") == ["P-2", "D-2"]
    assert await keys(index, "") == []
    assert await keys(index, "le la les") == []  # only stopwords, and no filter: nothing asked


def test_parse_query_takes_filters_out_of_the_text() -> None:
    query = parse_query('mineurs theme:"santé mentale" dept: 59 annee:2022 type:pratique isolés')
    assert query == Query(
        "mineurs isolés", kinds=("practice",), department="59", theme="santé mentale", year=2022
    )


def test_parse_query_reads_labels_with_a_vocabulary() -> None:
    vocabularies = {
        "theme": {
            "Santé mentale": "mental_health",
            "mental_health": "mental_health",
            "Violences conjugales": "domestic_violence",
            "Violences sexuelles": "sexual_violence",
        },
        "public": {"Adolescents": "adolescents", "Jeunes majeurs": "young_adults", "jeunes adultes": "young_adults"},
        "type": {"Rapports ODPE": "odpe_reports", "Données statistiques": "statistical_data",
                 "pratiques inspirantes": "practice"},
    }
    query = parse_query("theme:«Santé mentale» public:jeunes type:rapports", vocabularies)
    assert (query.theme, query.public, query.doc_type, query.kinds, query.unknown) == (
        "mental_health", "young_adults", "odpe_reports", None, ()
    )
    assert parse_query("theme:mental_health", vocabularies).theme == "mental_health"
    assert parse_query('type:"pratiques inspirantes" type:faq', vocabularies).kinds == ("practice", "faq")
    unknown = parse_query("theme:cuisine accueil", vocabularies)
    assert (unknown.text, unknown.theme, unknown.unknown) == ("accueil", "cuisine", ("theme:cuisine",))
    assert parse_query("theme:violences", vocabularies).unknown == ("theme:violences",)  # which of the two?
    assert parse_query("theme:violences-sex", vocabularies).theme == "sexual_violence"


def test_parse_query_leaves_what_is_no_filter_in_the_text() -> None:
    assert parse_query("a:b:c") == Query("a:b:c")
    assert parse_query("Question : comment faire ?") == Query("Question : comment faire ?")
    assert parse_query("annee:bientôt placement") == Query("annee:bientôt placement")
    assert parse_query("dept:") == Query("dept:")
    query = parse_query("dept:xyz accueil")
    assert (query.text, query.department, query.unknown) == ("accueil", "xyz", ("dept:xyz",))
    assert parse_query("dept:loire").department == "42"  # exact name among Loire, Haute-Loire, Loire-Atlantique…
    assert parse_query("Année : 2021 Département : Allier").department == "03"


# --- Updates ---------------------------------------------------------------------------------------------------


async def test_put_replaces_what_was_indexed_under_the_key(index: SearchIndex) -> None:
    assert await index.count() == len(CORPUS)
    await index.put(Indexed("D-2", "document", "Adoption simple et plénière", "Étude juridique.", "75", 2024))
    assert await index.count() == len(CORPUS)
    assert await keys(index, "placement familial") == ["P-3", "P-1"]
    [hit] = await index.search(Query("adoption"))
    assert (hit.key, hit.department, hit.year) == ("D-2", "75", 2024)
    assert await keys(index, "dept:59") == ["P-2"]


async def test_remove_takes_the_entry_out(index: SearchIndex) -> None:
    assert await index.remove("D-2")
    assert "D-2" not in await keys(index, "placement")
    assert not await index.remove("D-2")
    assert not await index.remove("not a key")
    assert await index.count() == len(CORPUS) - 1


async def test_put_many_keeps_the_last_of_a_key_given_twice(index: SearchIndex) -> None:
    await index.put_many([Indexed("F-9", "faq", "Premier", ""), Indexed("F-9", "faq", "Second", "")])
    assert await keys(index, "premier") == []
    assert await keys(index, "second") == ["F-9"]


async def test_changes_are_seen_by_later_sessions(migrated_db: Database) -> None:
    async with migrated_db.session() as session:
        await SearchIndex(session).put(Indexed("P-40", "practice", "Maraude éducative", "La nuit."))
    async with migrated_db.session() as session:
        assert [hit.key for hit in await SearchIndex(session).search(Query("maraudes"))] == ["P-40"]


@pytest.mark.parametrize("key", ["D12", "d-12", "DD-1", "D-", "", "D-1234567890123"])
async def test_keys_must_be_readable_ids(index: SearchIndex, key: str) -> None:
    with pytest.raises(ValueError, match="search key"):
        await index.put(Indexed(key, "document", "Titre", ""))


def test_entry_ids_sort_as_keys() -> None:
    keys_in_order = ["D-1", "D-2", "D-10", "D-999999999999", "F-1", "P-1", "P-3"]
    assert sorted(keys_in_order, key=entry_id) == keys_in_order


def test_analysis_version_names_the_stemmer() -> None:
    # Stored terms depend on it: the bot rebuilds the index when it changes.
    assert analysis_version().startswith("1+snowballstemmer-")


def test_search_tables_are_recognised() -> None:
    names = ["search_entry", "search_body", "search_fts", "search_fts_data", "search_fts_idx", "search_fts_config"]
    assert all(is_search_table(name) for name in names)
    assert not any(is_search_table(name) for name in ["item", "faq_entry", "search", "searches"])


# --- Hostile input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_input_never_raises(index: SearchIndex, text: str) -> None:
    queries = (
        parse_query(text),
        Query(text),
        Query(text, kinds=("faq",), department=text, theme=text),
        Query(text, year=10**12),
    )
    corpus = {entry.key for entry in CORPUS}
    for query in queries:
        hits = await index.search(query)
        assert {hit.key for hit in hits} <= corpus  # entries of the corpus, or none
    assert await index.count() == len(CORPUS)  # and nothing was dropped


# --- Both engines at once --------------------------------------------------------------------------------------


async def _answers(url: str, texts: list[str]) -> list[list[tuple[str, str]]]:
    await upgrade(url)
    db = Database(url)
    try:
        async with db.repos() as repos:
            index = await _index(repos)
            return [[(hit.key, hit.excerpt) for hit in await index.search(parse_query(text))] for text in texts]
    finally:
        await db.close()


async def test_sqlite_and_postgresql_give_the_same_answers(tmp_path: Path) -> None:
    server_url = os.environ.get(POSTGRESQL_URL_VARIABLE)
    if not server_url:
        pytest.skip(f"comparing the engines needs {POSTGRESQL_URL_VARIABLE}")
    texts = [*EXPECTED, *HOSTILE, "accueil", "enfant", "données", "jeunes", "document", "famille accueil"]
    server = DatabaseServer("postgresql", server_url=make_url(server_url))
    try:
        postgresql = await _answers(await server.create(), texts)
    finally:
        await server.drop_all()
    sqlite = await _answers(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}", texts)
    assert dict(zip(texts, sqlite, strict=True)) == dict(zip(texts, postgresql, strict=True))


async def test_texts_with_nul_characters_are_indexed(index: SearchIndex) -> None:
    # PostgreSQL cannot store NUL, which a pasted text may hold: dropped on both engines alike.
    await index.put(Indexed("D-60", "document", "Maraude\x00 nocturne", "Texte\x00 collé.", department="0\x003"))
    [hit] = await index.search(Query("maraude", department="03"))
    assert (hit.title, hit.excerpt) == ("Maraude nocturne", "Texte collé.")
