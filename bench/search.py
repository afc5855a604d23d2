"""Indexing time and search latency of the French full-text index on a synthetic corpus, SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from support import fresh_postgresql

from bot.glossary import DOCUMENT_TYPES, PUBLICS, THEMES
from storage import departments
from storage.db import Database, sqlite_file
from storage.migrate import upgrade
from storage.search import Hit, Indexed, Query, SearchIndex, parse_query

TARGET_P95_MS = 30.0  # on SQLite, on the 2-core reference machine
BATCH = 500  # entries indexed per transaction

# The vocabulary of child protection the synthetic texts are made of, with its usual inflections.
SUBJECTS = (
    "L'observatoire départemental de la protection de l'enfance",
    "Le service de l'aide sociale à l'enfance",
    "La cellule de recueil des informations préoccupantes",
    "Le conseil départemental",
    "L'équipe pluridisciplinaire",
    "Le service d'action éducative en milieu ouvert",
    "La maison départementale des solidarités",
    "Le pôle enfance famille",
    "L'association gestionnaire",
    "Le juge des enfants",
    "La protection maternelle et infantile",
    "Le comité de pilotage du schéma départemental",
)
VERBS = (
    "analyse", "évalue", "accompagne", "recense", "observe", "décrit", "interroge", "mesure", "présente",
    "questionne", "étudie", "compare", "synthétise", "met en lumière",
)
OBJECTS = (
    "les placements familiaux", "le placement en établissement", "les mesures d'assistance éducative",
    "l'évaluation des informations préoccupantes", "les situations de maltraitance", "les mineurs non accompagnés",
    "les jeunes majeurs sortant de l'aide sociale à l'enfance", "les parcours des enfants confiés",
    "les visites médiatisées", "la scolarité des élèves protégés", "le projet pour l'enfant",
    "les délaissements parentaux", "l'accueil d'urgence", "les violences conjugales et leurs effets sur l'enfant",
    "la santé mentale des adolescents placés", "le soutien à la parentalité", "les assistants familiaux",
    "les contrats jeunes majeurs", "l'adoption simple et plénière", "les mesures judiciaires d'investigation",
    "les signalements au parquet", "la prévention spécialisée", "les droits de visite et d'hébergement",
    "les fugues et disparitions", "le handicap des enfants protégés", "la prostitution des mineurs",
    "le harcèlement scolaire", "les usages numériques des adolescents",
)
COMPLEMENTS = (
    "sur la période étudiée", "depuis la réforme de la loi de 2016", "à partir des données de l'ONPE",
    "dans le cadre du schéma départemental", "en lien avec les partenaires associatifs",
    "selon les territoires d'action sociale", "au regard des recommandations nationales",
    "avec une approche quantitative et qualitative", "auprès des familles accompagnées",
    "à l'échelle des circonscriptions", "grâce à une enquête par questionnaire", "pendant la crise sanitaire",
)
FINDINGS = (
    "Les résultats montrent une hausse des durées de placement.",
    "Les professionnels soulignent le manque de places en famille d'accueil.",
    "Une baisse des délais d'évaluation est observée après la création de la cellule.",
    "Les enfants confiés connaissent plus de ruptures scolaires que leurs pairs.",
    "Le taux de recours aux mesures judiciaires reste supérieur à la moyenne nationale.",
    "Les familles évoquent un accompagnement jugé trop tardif.",
    "La coordination entre services reste un point de vigilance.",
    "Les indicateurs de l'observatoire permettent un suivi annuel.",
    "La part des mineurs non accompagnés dans les accueils a doublé.",
    "L'entretien avec les jeunes majeurs révèle une forte précarité résidentielle.",
)
TITLE_HEADS = (
    "Rapport annuel de l'observatoire", "Étude sur", "Évaluation de", "Guide méthodologique pour",
    "Diagnostic partagé sur", "Tableau de bord :", "Enquête sur", "Bilan du dispositif concernant",
    "Fiche pratique :", "Analyse des données sur", "Référentiel d'évaluation pour", "Synthèse des travaux sur",
)
PRACTICE_HEADS = (
    "Accueil de jour pour", "Dispositif innovant :", "Groupe de parole sur", "Plateforme d'accompagnement pour",
    "Équipe mobile dédiée à", "Atelier collectif autour de", "Parrainage de proximité et", "Lieu d'accueil pour",
)
AUTHORS = (
    "ODPE", "Conseil départemental", "ONPE", "CREAI", "Université de Lille", "ORS", "CNAPE", "ANMECS",
    "Direction enfance famille", "Observatoire régional de la santé",
)
KEYWORDS = (
    "placement", "assistance éducative", "évaluation", "maltraitance", "observatoire", "schéma départemental",
    "mineurs non accompagnés", "jeunes majeurs", "information préoccupante", "famille d'accueil", "AEMO", "AED",
    "parentalité", "scolarité", "santé", "handicap", "adoption", "prévention", "violences", "adolescence",
)

# Queries people would type: words of the corpus, inflected or not, with and without accents, filters,
# rare and absent words (the fallbacks run), and what a hostile or clumsy person sends.
QUERY_TEXTS = (
    "placement", "placements familiaux", "évaluations", "evaluation information preoccupante", "maltraitance",
    "mineurs non accompagnés", "jeune majeur", "schéma départemental", "assistance éducative", "élèves",
    "l'enfance", "observatoire", "visites médiatisées", "adoption", "fugue", "santé mentale adolescents",
    "violences conjugales", "harcèlement", "parentalité soutien", "accueil d'urgence", "famille d'accueil",
    "prostitution", "handicap", "enquête questionnaire", "crise sanitaire", "loi 2016", "données ONPE",
    "rupture scolaire", "précarité résidentielle", "signalement parquet", "délaissement", "prévention spécialisée",
    "accompag", "maltrai", "zorglub", "placement zorglub", "protection de l'enfance", "enfants confiés",
    '"', "OR NEAR(", "a:b:c", "*", "((", "-", "🙂 placement", "'; DROP TABLE item;--", "x" * 2000,
)
FILTERS = (
    "", "", "", "type:document", "type:pratique", "dept:03", "dept:Nord", "dept:\"Côtes-d'Armor\"",
    "annee:2021", "theme:education", "public:adolescents", "type:document annee:2019 dept:59",
)


@dataclass(frozen=True)
class Figures:
    backend: str
    entries: int
    index_seconds: float
    latencies: list[float]
    empty: int
    size_bytes: int | None

    def report(self) -> str:
        ms = sorted(latency * 1000 for latency in self.latencies)
        p95 = statistics.quantiles(ms, n=100)[94]
        lines = [
            f"{self.backend}: {self.entries} entries indexed in {self.index_seconds:.1f} s "
            f"({self.entries / self.index_seconds:.0f}/s)"
            + (f", database {self.size_bytes / 1024 / 1024:.0f} MiB" if self.size_bytes else ""),
            f"  {len(ms)} searches: median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, max {ms[-1]:.2f} ms "
            f"({self.empty} found nothing)",
        ]
        if self.backend == "sqlite":
            verdict = "reached" if p95 <= TARGET_P95_MS else "NOT reached"
            lines.append(f"  target p95 ≤ {TARGET_P95_MS:.0f} ms on SQLite: {verdict}")
        return "\n".join(lines)


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(COMPLEMENTS)}."


def corpus(documents: int, practices: int, seed: int = 2026) -> Iterator[Indexed]:
    """Documents and practices as the bot would index them, reproducible from `seed`."""
    rng = random.Random(seed)
    codes = [d.code for d in departments.all_departments()]
    names = {d.code: d.name for d in departments.all_departments()}
    for number in range(1, documents + 1):
        code = rng.choice(codes)
        year = rng.randint(2010, 2025)
        title = f"{rng.choice(TITLE_HEADS)} {rng.choice(OBJECTS)} ({names[code]}, {year})"
        summary = " ".join(sentence(rng) for _ in range(rng.randint(2, 5))) + " " + rng.choice(FINDINGS)
        keywords = ", ".join(rng.sample(KEYWORDS, rng.randint(3, 6)))
        body = f"{summary}\nMots-clés : {keywords}\nAuteur : {rng.choice(AUTHORS)}\nSources : {sentence(rng)}"
        yield Indexed(f"D-{number}", "document", title, body, code, year, doc_type=rng.choice(DOCUMENT_TYPES.keys()))
    for number in range(1, practices + 1):
        code = rng.choice(codes)
        title = f"{rng.choice(PRACTICE_HEADS)} {rng.choice(OBJECTS)}"
        description = " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))[:1000]
        body = f"{description}\nPorteur : {rng.choice(AUTHORS)} {names[code]}"
        yield Indexed(
            f"P-{number}", "practice", title, body, code, rng.randint(2015, 2025),
            theme=rng.choice(THEMES.keys()), public=rng.choice(PUBLICS.keys()),
        )


def queries(count: int, seed: int = 7) -> list[Query]:
    """`count` queries cycling through the texts, a filter drawn for each (as `chercher` would parse them)."""
    rng = random.Random(seed)
    return [parse_query(f"{QUERY_TEXTS[i % len(QUERY_TEXTS)]} {rng.choice(FILTERS)}") for i in range(count)]


async def index(db: Database, entries: Sequence[Indexed]) -> float:
    began = time.perf_counter()
    for start in range(0, len(entries), BATCH):
        async with db.session() as session:
            await SearchIndex(session).put_many(entries[start : start + BATCH])
    return time.perf_counter() - began


async def search_all(db: Database, all_queries: Sequence[Query]) -> tuple[list[float], list[list[Hit]]]:
    latencies: list[float] = []
    results: list[list[Hit]] = []
    for query in all_queries:
        began = time.perf_counter()
        async with db.session() as session:
            hits = await SearchIndex(session).search(query)
        latencies.append(time.perf_counter() - began)
        results.append(hits)
    return latencies, results


async def measure(
    url: str, entries: Sequence[Indexed], all_queries: Sequence[Query]
) -> tuple[Figures, list[list[str]]]:
    await upgrade(url)
    db = Database(url)
    try:
        seconds = await index(db, entries)
        await search_all(db, all_queries[:20])  # warm-up: caches, prepared statements
        latencies, results = await search_all(db, all_queries)
    finally:
        await db.close()
    path = sqlite_file(url)
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) if path else None
    figures = Figures(db.backend, len(entries), seconds, latencies, sum(not hits for hits in results), size)
    return figures, [[hit.key for hit in hits] for hits in results]


def agreement(a: list[list[str]], b: list[list[str]]) -> str:
    same_order = sum(x == y for x, y in zip(a, b, strict=True))
    same_set = sum(set(x) == set(y) for x, y in zip(a, b, strict=True))
    return f"same keys in the same order for {same_order}/{len(a)} queries, same keys for {same_set}/{len(a)}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=20_000, help="archived documents in the corpus")
    parser.add_argument("--practices", type=int, default=5_000, help="published practices in the corpus")
    parser.add_argument("--queries", type=int, default=200, help="searches timed")
    parser.add_argument("--database-url",
                        help="a PostgreSQL server (postgresql+asyncpg://…) to measure too, in a database made there")
    options = parser.parse_args()
    if min(options.documents, options.practices, options.queries) < 1:
        parser.error("--documents, --practices and --queries must be at least 1")
    entries = list(corpus(options.documents, options.practices))
    all_queries = queries(options.queries)
    print(f"search index: {options.documents} documents + {options.practices} practices, "
          f"{options.queries} queries (filters on {sum(q.has_filters for q in all_queries)})")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite, sqlite_keys = await measure(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", entries, all_queries)
    print(sqlite.report())
    if options.database_url:
        async with fresh_postgresql(options.database_url) as url:
            postgresql, postgresql_keys = await measure(url, entries, all_queries)
        print(postgresql.report())
        print(f"engines: {agreement(sqlite_keys, postgresql_keys)}")


if __name__ == "__main__":
    asyncio.run(main())
