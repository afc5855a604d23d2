"""`chercher|search`: one French search over archived documents, published practices and the FAQ."""

from __future__ import annotations

from bot.context import Context
from bot.glossary import DOCUMENT_TYPES, PUBLICS, THEMES
from bot.i18n import LazyText, _
from bot.messages import Reply
from bot.registry import Arg
from bot.rich import Block, Bullets, Heading, Para, Span, bold, code, fill
from commands import command
from storage.search import KIND_WORDS, Hit, SearchIndex, parse_query

KIND_LABELS: dict[str, LazyText] = {
    "document": _("document"),
    "practice": _("pratique"),
    "faq": _("FAQ"),
}


def vocabularies() -> dict[str, dict[str, str]]:
    """The words a filter may use, French labels and stable keys alike."""
    def words(terms: object) -> dict[str, str]:
        found: dict[str, str] = {}
        for term in terms:  # type: ignore[attr-defined]
            found[str(term.label)] = term.key
            found[term.key] = term.key
        return found

    return {"type": {**words(DOCUMENT_TYPES), **KIND_WORDS}, "theme": words(THEMES), "public": words(PUBLICS)}


def hit_line(hit: Hit) -> list[str | Span]:
    facts = [str(KIND_LABELS.get(hit.kind, hit.kind))]
    if hit.department:
        facts.append(hit.department)
    if hit.year:
        facts.append(str(hit.year))
    line: list[str | Span] = [bold(f"{hit.key} — {hit.title}"), f" ({', '.join(facts)})"]
    if hit.excerpt:
        line.append(f"\n{hit.excerpt}")
    return line


async def search_hits(ctx: Context, text: str, limit: int = 8) -> tuple[list[Hit], list[str]]:
    query = parse_query(text, vocabularies())
    return await SearchIndex(ctx.repo.session).search(query, limit=limit), list(query.unknown)


@command(
    "chercher",
    aliases=["search"],
    family="documents",
    help=_("Cherche dans les documents archivés, les pratiques publiées et la FAQ (français : accents, pluriels…)."),
    args=[Arg("mots", _("mots, et filtres type: dept: theme: public: annee:"), rest=True)],
    examples=["chercher évaluation placement", "chercher maltraitance dept:03 annee:2024", "chercher type:pratique",
              'chercher indicateurs type:"Rapports ODPE"'],
)
async def search(ctx: Context, mots: str) -> Reply:
    hits, unknown = await search_hits(ctx, mots)
    if not hits:
        blocks: list[Block] = [Para.of(str(_("Aucun résultat pour « {q} ».")).format(q=mots[:200]))]
        if unknown:
            blocks.append(Para.of(str(_("Filtre sans effet : {f}.")).format(f=", ".join(unknown))))
        blocks.append(Para.of(fill(str(_("Essayez moins de mots, ou sans filtre ; ou posez la question : {cmd}")),
                                   cmd=code(f"{ctx.prefix}question …"))))
        return Reply.card(blocks)
    return Reply.card([
        Heading.of(str(_("{n} résultat(s) pour « {q} »")).format(n=len(hits), q=mots[:200])),
        Bullets.of([hit_line(h) for h in hits]),
        Para.of(fill(str(_("Détail : {cmd}")), cmd=code(f"{ctx.prefix}voir {hits[0].key}"))),
    ])
