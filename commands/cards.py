"""How an item (document or practice) is shown: one card for the review room, the announcements and `voir`.

Each kind registers its form and which fields its card shows; the card reads the labels and renders the
values through the form, so nothing here spells a field twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import review
from bot.context import Context
from bot.forms import Form, display, human_size
from bot.i18n import LazyText, _
from bot.messages import FileRef, Prompt, Reply
from bot.rich import Block, Bullets, Fields, Heading, Para, Span, bold, code, fill
from storage.models import Item


@dataclass(frozen=True)
class Card:
    form: Form
    fields: tuple[str, ...]  # shown as label : value, in this order
    long_text: str | None  # shown as a paragraph under the fields (summary, description)
    review_heading: LazyText  # "Nouveau document {id} à relire"
    reminder_title: LazyText  # what reviewers are reminded of
    reminder: Sequence[LazyText]
    announce_heading: LazyText  # "Nouveau document archivé : {id} — {title}"


CARDS: dict[str, Card] = {}


def register(kind: str, card: Card) -> None:
    CARDS[kind] = card


def item_blocks(item: Item) -> list[Block]:
    card = CARDS[item.kind]
    answers = item.fields
    rows: list[tuple[str, str | Span]] = [(str(_("Titre")), item.title)]
    for name in card.fields:
        form_field = card.form.fields[card.form.index(name)]
        if answers.get(name) is not None:
            rows.append((str(form_field.label), display(form_field, answers[name])))
    file = answers.get("file")
    if file:
        rows.append((str(_("Fichier")), f"{file['name']} ({human_size(file['size'])})"))
    blocks: list[Block] = [Fields.of(rows)]
    if card.long_text and answers.get(card.long_text):
        label = card.form.fields[card.form.index(card.long_text)].label
        blocks.append(Para.of([bold(f"{label} : "), Span(answers[card.long_text])]))
    return blocks


def file_ref(item: Item) -> FileRef | None:
    file = item.fields.get("file")
    return FileRef(file["sha256"], file["name"], file["mime"]) if file else None


async def review_card(ctx: Context, item: Item) -> Reply:
    """The message that opens an item's thread in the review room, with what to do about it."""
    card = CARDS[item.kind]
    rid = str(item.readable_id)
    submitter = await ctx.repo.people.get(item.submitter_id)
    who: list[str | Span] = [await review.submitter_mention(ctx, item)]
    if submitter is not None and submitter.department:
        who.append(f" ({submitter.department})")
    blocks: list[Block] = [
        Heading.of(card.review_heading.format(id=rid)),
        Para.of([str(_("Soumis par ")), *who]),
        *item_blocks(item),
        Para.of(bold(str(card.reminder_title))),
        Bullets.of([str(line) for line in card.reminder]),
        Para.of(fill(
            str(_("Réagissez ✅ approuver, ❌ refuser, ❓ demander un complément, ✋ prendre en charge ; ou "
                  "{approve}, {reject}, {info}, {claim}.")),
            approve=code(f"{ctx.prefix}approuver {rid}"),
            reject=code(f"{ctx.prefix}refuser {rid} <motif>"),
            info=code(f"{ctx.prefix}complement {rid} <question>"),
            claim=code(f"{ctx.prefix}prendre {rid}"),
        )),
    ]
    return Reply.card(blocks, prompt=Prompt("review", rid), topic=rid, stored_file=file_ref(item))


def announcement(item: Item) -> Reply:
    card = CARDS[item.kind]
    heading = card.announce_heading.format(id=item.readable_id, title=item.title)
    return Reply.card([Heading.of(heading), *item_blocks(item)], stored_file=file_ref(item))
