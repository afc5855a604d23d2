"""French full-text search over archived documents, published practices and FAQ entries, on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import importlib.metadata
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import snowballstemmer
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from storage import departments
from storage.normalize import fold

Kind = Literal["document", "practice", "faq"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# The tables of migration 0003, which are not ORM models: the entries with their filters, their bodies, and the
# terms, in an FTS5 virtual table on SQLite (with shadow tables named after it), in tsvector columns of the
# entries on PostgreSQL. `is_search_table` lets a schema comparison skip them.
ENTRY_TABLE = "search_entry"
BODY_TABLE = "search_body"  # apart, so that the entries stay small: filters scan them, rankings join them
FTS_TABLE = "search_fts"

# Longer "words" are pasted identifiers or garbage: nobody searches them, and PostgreSQL refuses lexemes
# beyond 2 KB. The same bound on both sides keeps both engines indexing the same terms.
MAX_TERM_LENGTH = 40
# An AND of dozens of terms finds nothing and an OR of them finds everything: past this, words add nothing.
MAX_QUERY_TERMS = 16
# Below this a prefix matches too many terms to be worth it (and to be fast).
MIN_PREFIX_LENGTH = 3
EXCERPT_WIDTH = 160
# bm25 (SQLite) and ts_rank (PostgreSQL) both weigh a word of the title ten times a word of the body.
TITLE_WEIGHT = 10.0
BODY_WEIGHT = 1.0

# Compared with folded words (no accents): articles, pronouns, conjunctions, the commonest forms of être and
# avoir, and the question words, which every FAQ question has and which say nothing of its subject. The elided
# forms (l', d', qu', j', n', s', c', m', t') are here too: the apostrophe, straight or curly, separates words,
# which leaves the elided letter on its own.
_STOPWORDS = """
    a ai as au aux avec avez avons c ca car ce ceci cela ces cet cette chez comme comment combien d dans de des
    dont donc du elle elles en est et etaient etait ete etre eu eux il ils j je l la laquelle le lequel les
    lesquelles lesquels leur leurs lui m ma mais me mes moi mon n ne ni nos notre nous on ont or ou par pas
    peut peuvent pour pourquoi qu quand que quel quelle quelles quels qui quoi s sa se ses si son sont sur t ta
    te tes toi ton tu un une vos votre vous y
"""
STOPWORDS = frozenset(_STOPWORDS.split())

# The terms stored depend on the analysis below: bump this whenever it would give other terms (stopwords,
# rules), so that indexes made before are rebuilt (see analysis_version).
ANALYSIS = "1"

_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; everything else separates words
_TERM = re.compile(r"[a-z0-9]+")  # what an indexed term may hold, so both engines' tokenizers agree on it
_local = threading.local()


def _stemmer() -> Any:
    # A Snowball stemmer keeps its working string in the instance: one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("french")
    return stemmer


@functools.lru_cache(maxsize=100_000)
def word_terms(word: str) -> tuple[str, ...]:
    """The indexed terms of one word: lower-cased, stemmed, then without accents; () for a stopword.

    Stemming comes before folding because the French rules read accents ("placée" and "placé" share a stem
    only while the accent is there); the query goes through the same steps, so both sides agree. Cached:
    the pure-Python stemmer takes ~80 µs a word, and a corpus repeats its vocabulary.
    """
    lowered = word.casefold()
    if len(lowered) > MAX_TERM_LENGTH or fold(lowered) in STOPWORDS:
        return ()
    return tuple(_TERM.findall(fold(_stemmer().stemWord(lowered))))


@functools.cache
def analysis_version() -> str:
    """What the stored terms are made with; an index made with another version must be rebuilt."""
    return f"{ANALYSIS}+snowballstemmer-{importlib.metadata.version('snowballstemmer')}"


def _words(text: str) -> Iterator[tuple[tuple[str, ...], int]]:
    """Each word's terms with where the word starts in `text`."""
    for match in _WORD.finditer(text):
        terms = word_terms(match.group())
        if terms:
            yield terms, match.start()


def analyze(text: str) -> list[str]:
    """The French analysis of a text: its stemmed, folded terms in order, stopwords left out."""
    return [term for terms, _ in _words(text) for term in terms]


@dataclass(frozen=True)
class Indexed:
    """What the index holds about one document, practice or FAQ entry; `body` is all its searchable text."""

    key: str  # "D-12", "P-7", "F-3"
    kind: Kind
    title: str
    body: str
    department: str | None = None  # code: "03", "2A", "971"
    year: int | None = None
    theme: str | None = None  # glossary keys
    public: str | None = None
    doc_type: str | None = None


@dataclass(frozen=True)
class Query:
    """Free text and filters; an empty text with filters lists what the filters keep, newest first."""

    text: str
    kinds: tuple[Kind, ...] | None = None
    department: str | None = None
    theme: str | None = None
    public: str | None = None
    doc_type: str | None = None
    year: int | None = None
    # Filters as typed whose value matched nothing known ("dept:xyz"): applied as given, so they keep
    # nothing, and listed here so that the caller can say why.
    unknown: tuple[str, ...] = field(default=())

    @property
    def has_filters(self) -> bool:
        return any(
            value is not None
            for value in (self.kinds, self.department, self.theme, self.public, self.doc_type, self.year)
        )


@dataclass(frozen=True)
class Hit:
    """One result; `score` is in [1, 2) for an entry whose title has every word, [0, 1) otherwise, 0 when
    filters alone were given. It orders one answer's hits; it means nothing across queries or engines."""

    key: str
    kind: Kind
    title: str
    department: str | None
    year: int | None
    excerpt: str
    score: float


# --- Query parsing ------------------------------------------------------------------------------------------

_FILTER = re.compile(
    r"""(?<!\S)(?P<name>[^\W\d_]+)\s*:\s*
    (?: "(?P<straight>[^"]*)"?      # quoted values may hold spaces; an unclosed quote runs to the end
      | “(?P<curly>[^”]*)”?
      | «\s*(?P<guillemets>[^»]*?)\s*(?:»|$)
      | (?P<bare>[^\s"“«]+) )""",
    re.VERBOSE,
)
_FILTER_NAMES = {
    "type": "type",
    "dept": "department",
    "dep": "department",
    "departement": "department",
    "department": "department",
    "theme": "theme",
    "thematique": "theme",
    "public": "public",
    "annee": "year",
    "an": "year",
    "year": "year",
}
KIND_WORDS: dict[str, Kind] = {
    "document": "document",
    "documents": "document",
    "doc": "document",
    "docs": "document",
    "pratique": "practice",
    "pratiques": "practice",
    "practice": "practice",
    "practices": "practice",
    "faq": "faq",
}
_YEAR = re.compile(r"\d{4}")


def _resolve_word(value: str, words: Mapping[str, str] | None) -> str | None:
    """The key of the word `value` is (or, failing that, of the only key whose words start with `value`)."""
    if not words:
        return None
    folded = fold(value)
    exact = {key for word, key in words.items() if fold(word) == folded}
    starting = exact or {key for word, key in words.items() if fold(word).startswith(folded)}
    return next(iter(starting)) if len(starting) == 1 else None


def _resolve_department(value: str) -> str | None:
    found = departments.resolve(value)
    return found.code if found else None


def parse_query(text: str, vocabularies: Mapping[str, Mapping[str, str]] | None = None) -> Query:
    """Split `chercher` arguments into free text and filters `type: dept: theme: public: annee:`.

    Values may be quoted ("…", “…”, «…»). `type:` takes document|pratique|faq, or else a document type;
    `dept:` a code or a name. `vocabularies` maps "type", "theme" and "public" to {word: key}, the words
    people may type (labels such as "Santé mentale", keys, synonyms) to the keys stored; storage knows no
    labels of its own. Without a vocabulary a value is taken as a key. Words that look like a filter but name
    none stay in the free text.
    """
    vocabularies = vocabularies or {}
    kinds: list[Kind] = []
    found: dict[str, Any] = {}
    unknown: list[str] = []
    kept: list[str] = []
    position = 0
    for match in _FILTER.finditer(text):
        name = _FILTER_NAMES.get(fold(match["name"]))
        value = next((v for v in match.group("straight", "curly", "guillemets", "bare") if v is not None), "")
        value = " ".join(value.split())
        if name is None or not value or (name == "year" and not _YEAR.fullmatch(value)):
            continue
        kept.append(text[position : match.start()])
        position = match.end()
        if name == "year":
            found["year"] = int(value)
            continue
        if name == "department":
            resolved = _resolve_department(value)
        elif fold(value) in KIND_WORDS and name == "type":
            resolved = KIND_WORDS[fold(value)]
        else:
            words = vocabularies.get(name)
            # No vocabulary to check against: the value is taken as a key.
            resolved = _resolve_word(value, words) if words else value
        if name == "type" and resolved in KINDS:
            kinds.extend(kind for kind in KINDS if kind == resolved and kind not in kinds)
            continue
        if resolved is None:
            unknown.append(match.group().strip())
        found["doc_type" if name == "type" else name] = resolved if resolved is not None else value
    kept.append(text[position:])
    return Query(
        text=" ".join(" ".join(kept).split()),
        kinds=tuple(kinds) or None,
        unknown=tuple(unknown),
        **found,
    )


# --- Matching and excerpts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    """One attempt at the query: its terms, how they combine, and whether the last one is a prefix."""

    terms: tuple[str, ...]
    any_term: bool = False  # OR rather than AND
    prefix: bool = False

    def fts5(self, column: str | None = None) -> str:
        """The FTS5 query, or the one that requires every match to be in `column`."""
        # Terms hold only [a-z0-9] (see _TERM), so quoting them as FTS5 strings leaves no syntax to inject.
        quoted = [f'"{term}"' for term in self.terms]
        if self.prefix:
            quoted[-1] += "*"
        expression = (" OR " if self.any_term else " ").join(quoted)
        return f"{column} : ({expression})" if column else expression

    def tsquery(self) -> str:
        quoted = [f"'{term}'" for term in self.terms]
        if self.prefix:
            quoted[-1] += ":*"
        return (" | " if self.any_term else " & ").join(quoted)

    def matches(self, terms: tuple[str, ...]) -> bool:
        last = self.terms[-1]
        return any(t in self.terms or (self.prefix and t.startswith(last)) for t in terms)


def query_terms(text: str) -> tuple[str, ...]:
    """The distinct terms of a query, in order, at most MAX_QUERY_TERMS."""
    return tuple(dict.fromkeys(analyze(text)))[:MAX_QUERY_TERMS]


def _attempts(terms: tuple[str, ...]) -> Iterator[_Match]:
    # Every word first; then the last one as the start of a word (still being typed, or cut short);
    # then any of the words, so that one word absent from the corpus does not leave the answer empty.
    yield _Match(terms)
    if len(terms[-1]) >= MIN_PREFIX_LENGTH:
        yield _Match(terms, prefix=True)
    if len(terms) > 1:
        yield _Match(terms, any_term=True)


def excerpt(text: str, match: _Match | None = None, width: int = EXCERPT_WIDTH) -> str:
    """About `width` characters of `text` around its first word that matches, "…" where it is cut."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    at = 0
    if match is not None:
        at = next((start for terms, start in _words(flat) if match.matches(terms)), 0)
    start = min(max(0, at - width // 3), len(flat) - width)
    if start > 0:
        # Begin on a word, but never after the matching one.
        space = flat.find(" ", start - 1, at)
        start = space + 1 if space != -1 else start
    end = start + width
    if end < len(flat):
        space = flat.rfind(" ", start, end + 1)
        end = space if space > at else end
    return ("…" if start > 0 else "") + flat[start:end].strip() + ("…" if end < len(flat) else "")


# --- The index ------------------------------------------------------------------------------------------------


def is_search_table(name: str) -> bool:
    """Whether a table belongs to the search index (FTS5's shadow tables included), for schema comparisons."""
    return name in (ENTRY_TABLE, BODY_TABLE, FTS_TABLE) or name.startswith(FTS_TABLE + "_")


_KEY = re.compile(r"([A-Z])-(\d{1,12})")


def entry_id(key: str) -> int:
    """The row id of a key ("D-12"): ordered as the keys are (by letter, then by number), so that ties in
    score are broken by the FTS5 rowid alone, without reading the entries."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"search key {key!r}: expected a capital letter, a dash and a number, e.g. D-12")
    return (ord(match[1]) - ord("A") + 1) * 10**12 + int(match[2])


_FILTER_COLUMNS = ("department", "theme", "public", "doc_type", "year")
_INT32 = (-(2**31), 2**31 - 1)
_ENTRY_COLUMNS = "id, key, kind, department, year, theme, public, doc_type, title"
_ENTRY_VALUES = ":id, :key, :kind, :department, :year, :theme, :public, :doc_type, :title"
_ENTRY_UPDATE = """kind = excluded.kind, department = excluded.department, year = excluded.year,
    theme = excluded.theme, public = excluded.public, doc_type = excluded.doc_type, title = excluded.title"""
_BODY_UPSERT = sa.text(
    f"INSERT INTO {BODY_TABLE} (id, body) VALUES (:id, :body) ON CONFLICT (id) DO UPDATE SET body = excluded.body"
)

_SQLITE_UPSERT = sa.text(
    f"""INSERT INTO {ENTRY_TABLE} ({_ENTRY_COLUMNS}) VALUES ({_ENTRY_VALUES})
    ON CONFLICT (id) DO UPDATE SET {_ENTRY_UPDATE}"""
)
_SQLITE_FTS_DELETE = sa.text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id")
_SQLITE_FTS_INSERT = sa.text(f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (:id, :title_terms, :body_terms)")
# 'simple' on the Python-stemmed text: PostgreSQL then only splits it on spaces, as FTS5's ascii tokenizer does.
_POSTGRESQL_UPSERT = sa.text(
    f"""INSERT INTO {ENTRY_TABLE} ({_ENTRY_COLUMNS}, title_terms, terms)
    VALUES ({_ENTRY_VALUES}, to_tsvector('simple', :title_terms),
        setweight(to_tsvector('simple', :title_terms), 'A') || setweight(to_tsvector('simple', :body_terms), 'B'))
    ON CONFLICT (id) DO UPDATE SET {_ENTRY_UPDATE}, title_terms = excluded.title_terms, terms = excluded.terms"""
)

# Relevance, squashed into [0, 1) on both engines so that a title match (1 +) always comes first.
# SQLite: bm25 is negative, lower being better; 1 - 1 / (1 - bm25) names it once. Column weights: title, body.
_SQLITE_SCORE = f"1.0 - 1.0 / (1.0 - bm25({FTS_TABLE}, {TITLE_WEIGHT}, {BODY_WEIGHT}))"
# PostgreSQL: weights {D, C, B, A}, title and body being A and B; normalization 1 divides by the log of the
# whole entry's length, as bm25 weighs by the whole row's length even when it ranks the title alone; 32 maps
# r to r / (r + 1). Ranked with the OR of the terms (:rank): with AND, ts_rank rewards terms close together,
# a thing bm25 knows nothing of.
_POSTGRESQL_SCORE = {
    "title": "ts_rank('{0, 0, 0, 1}', e.terms, to_tsquery('simple', :rank), 1 | 32)",
    "all": f"ts_rank('{{0, 0, {BODY_WEIGHT / TITLE_WEIGHT}, 1}}', e.terms, to_tsquery('simple', :rank), 1 | 32)",
}


@dataclass(frozen=True)
class _Row:
    id: int
    score: float


class SearchIndex:
    """The search index seen through the caller's session (one transaction); nothing here commits.

    A query asks for every word; failing that, for every word with the last one as a prefix; failing that, for
    any of the words. Results come in two tiers, computed alike on both engines: entries whose title has every
    word, ranked by how well it does; then the others, ranked by how well title and body do together (the only
    tier when any of the words will do). Ties go in key order. Within a tier the ranking is each engine's own
    (bm25 on SQLite, ts_rank on PostgreSQL): orders may differ where one entry has the words more often and
    another is shorter, and when any word will do, since ts_rank does not weigh rare words above common ones.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def put(self, doc: Indexed) -> None:
        """Index `doc`, replacing what was indexed under its key."""
        await self.put_many([doc])

    async def put_many(self, docs: Iterable[Indexed]) -> None:
        """Index several at once (a rebuild); for a key given twice, the last one counts."""
        rows = [self._row(doc) for doc in {doc.key: doc for doc in docs}.values()]
        if not rows:
            return
        await self.session.execute(_BODY_UPSERT, rows)
        if self._postgresql:
            await self.session.execute(_POSTGRESQL_UPSERT, rows)
            return
        await self.session.execute(_SQLITE_FTS_DELETE, rows)
        await self.session.execute(_SQLITE_UPSERT, rows)
        await self.session.execute(_SQLITE_FTS_INSERT, rows)

    @staticmethod
    def _row(doc: Indexed) -> dict[str, Any]:
        if doc.kind not in KINDS:
            raise ValueError(f"{doc.key}: unknown kind {doc.kind!r}, expected one of {KINDS}")
        return {
            "id": entry_id(doc.key),
            "key": doc.key,
            "kind": doc.kind,
            "department": _storable(doc.department),
            "year": doc.year,
            "theme": _storable(doc.theme),
            "public": _storable(doc.public),
            "doc_type": _storable(doc.doc_type),
            "title": _storable(doc.title),
            "body": _storable(doc.body),
            "title_terms": " ".join(analyze(doc.title)),
            "body_terms": " ".join(analyze(doc.body)),
        }

    async def remove(self, key: str) -> bool:
        """Take `key` out of the index; False if it was not there."""
        try:
            params = {"id": entry_id(key)}
        except ValueError:
            return False
        if not self._postgresql:
            await self.session.execute(_SQLITE_FTS_DELETE, params)
        await self.session.execute(sa.text(f"DELETE FROM {BODY_TABLE} WHERE id = :id"), params)
        result = await self.session.execute(sa.text(f"DELETE FROM {ENTRY_TABLE} WHERE id = :id"), params)
        return bool(getattr(result, "rowcount", 0))

    async def clear(self) -> None:
        """Empty the index (before a rebuild)."""
        if not self._postgresql:
            await self.session.execute(sa.text(f"DELETE FROM {FTS_TABLE}"))
        await self.session.execute(sa.text(f"DELETE FROM {BODY_TABLE}"))
        await self.session.execute(sa.text(f"DELETE FROM {ENTRY_TABLE}"))

    async def count(self) -> int:
        return int(await self.session.scalar(sa.text(f"SELECT count(*) FROM {ENTRY_TABLE}")) or 0)

    async def search(self, query: Query, limit: int = 10) -> list[Hit]:
        """The best `limit` entries for the query, best first; never raises whatever its text."""
        if limit <= 0:
            return []
        terms = query_terms(query.text)
        if not terms:
            return await self._hits(await self._listed(query, limit), None) if query.has_filters else []
        for match in _attempts(terms):
            rows = await self._ranked(query, match, limit)
            if rows:
                return await self._hits(rows, match)
        return []

    async def _ranked(self, query: Query, match: _Match, limit: int) -> list[_Row]:
        if match.any_term:
            # A title with any one of the words says little (it may be the commonest one): no title tier.
            return await self._tier(query, match, limit, title=False)
        # The title tier first: it is small even for a word found everywhere, and often fills the page, so
        # that ranking every entry with that word (the costly part) is seldom needed.
        titled = [_Row(row.id, 1.0 + row.score) for row in await self._tier(query, match, limit, title=True)]
        if len(titled) == limit:
            return titled
        # The rest: the best `limit` of all, less those already found by their title.
        seen = {row.id for row in titled}
        rest = [row for row in await self._tier(query, match, limit + len(titled), title=False) if row.id not in seen]
        return titled + rest[: limit - len(titled)]

    async def _tier(self, query: Query, match: _Match, limit: int, *, title: bool) -> list[_Row]:
        conditions, params = _filters(query)
        params["limit"] = limit
        if self._postgresql:
            column = "title_terms" if title else "terms"
            params.update(match=match.tsquery(), rank=_Match(match.terms, any_term=True, prefix=match.prefix).tsquery())
            sql = f"""SELECT e.id, {_POSTGRESQL_SCORE["title" if title else "all"]} AS score FROM {ENTRY_TABLE} AS e
                WHERE e.{column} @@ to_tsquery('simple', :match) {"".join(" AND " + c for c in conditions)}
                ORDER BY score DESC, e.id LIMIT :limit"""
        else:
            params["match"] = match.fts5("title" if title else None)
            # Without filters the entries are not read at all: the rowid is the id, in key order.
            join = f"JOIN {ENTRY_TABLE} AS e ON e.id = {FTS_TABLE}.rowid" if conditions else ""
            sql = f"""SELECT {FTS_TABLE}.rowid AS id, {_SQLITE_SCORE} AS score FROM {FTS_TABLE} {join}
                WHERE {FTS_TABLE} MATCH :match {"".join(" AND " + c for c in conditions)}
                ORDER BY score DESC, {FTS_TABLE}.rowid LIMIT :limit"""
        rows = await self.session.execute(_expanding(sa.text(sql), params), params)
        return [_Row(row.id, float(row.score)) for row in rows]

    async def _listed(self, query: Query, limit: int) -> list[_Row]:
        # Filters alone: nothing to rank by, so the newest first.
        conditions, params = _filters(query)
        params["limit"] = limit
        sql = f"""SELECT e.id FROM {ENTRY_TABLE} AS e WHERE {" AND ".join(conditions) or "1 = 1"}
            ORDER BY e.year IS NULL, e.year DESC, e.id LIMIT :limit"""
        rows = await self.session.execute(_expanding(sa.text(sql), params), params)
        return [_Row(row.id, 0.0) for row in rows]

    async def _hits(self, rows: list[_Row], match: _Match | None) -> list[Hit]:
        if not rows:
            return []
        # The texts are read for the rows kept alone, for the excerpts.
        statement = sa.text(
            f"""SELECT e.id, e.key, e.kind, e.title, e.department, e.year, b.body
            FROM {ENTRY_TABLE} AS e JOIN {BODY_TABLE} AS b ON b.id = e.id WHERE e.id IN :ids"""
        ).bindparams(sa.bindparam("ids", expanding=True))
        entries = {row.id: row for row in await self.session.execute(statement, {"ids": [row.id for row in rows]})}
        return [
            Hit(
                key=entry.key,
                kind=entry.kind,
                title=entry.title,
                department=entry.department,
                year=entry.year,
                excerpt=excerpt(entry.body, match),
                score=row.score,
            )
            for row in rows
            if (entry := entries.get(row.id)) is not None
        ]


def _filters(query: Query) -> tuple[list[str], dict[str, Any]]:
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if query.kinds is not None:
        conditions.append("e.kind IN :kinds")
        params["kinds"] = list(query.kinds)
    for column in _FILTER_COLUMNS:
        value = getattr(query, column)
        if value is None:
            continue
        if isinstance(value, int) and not _INT32[0] <= value <= _INT32[1]:
            # No entry has such a year, and PostgreSQL would refuse to compare its integers with it.
            conditions.append("1 = 0")
            continue
        conditions.append(f"e.{column} = :{column}")
        params[column] = _storable(value) if isinstance(value, str) else value
    return conditions, params


def _storable(text: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL, which a pasted text may; dropped on both engines, so they agree.
    return text.replace("\x00", "") if text is not None else None


def _expanding(statement: sa.TextClause, params: dict[str, Any]) -> sa.TextClause:
    return statement.bindparams(sa.bindparam("kinds", expanding=True)) if "kinds" in params else statement
