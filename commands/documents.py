"""The document circuit, submitter's side: `soumettre` (the guided form of seed 000), `statut`, `voir`, and
withdrawing with `annuler ID`; the submission card that the review room and the announcements show."""

from __future__ import annotations

import re
from typing import Any

from bot import notify, review
from bot.context import Context
from bot.dialogs import Flow, in_progress
from bot.errors import UserError
from bot.forms import Field, Form, Invalid, Kind
from bot.glossary import ARCHIVING_CRITERIA, DATA_NATURES, DOCUMENT_TYPES
from bot.i18n import _
from bot.messages import Reply, RoomKind
from bot.registry import Arg, Role
from bot.rich import Block, Bullets, Heading, Para, code, fill
from commands import cards, command, registry
from storage.models import Item

DOCUMENT_FORM = Form(
    name="document",
    title=_("Soumettre un document à l'ONPE"),
    intro=_("Je vais vous poser quelques questions pour qualifier votre document (circuit de transmission de "
            "l'ONPE). Chaque réponse est gardée : vous pouvez vous interrompre et reprendre plus tard."),
    fields=(
        Field("type", _("Type de document"), Kind.CHOICE, choices=DOCUMENT_TYPES),
        Field("title", _("Titre du document"), max_length=200),
        Field("date", _("Date du document"), Kind.DATE, help=_("Au format JJ/MM/AAAA, ex. 03/11/2026.")),
        Field("author", _("Auteur"), max_length=200,
              help=_("Par exemple : DEF, département, chercheur, service de l'ODPE…")),
        Field("keywords", _("Mots-clés"), Kind.LIST,
              help=_("Séparés par des virgules, ex. maltraitance, indicateurs, schéma départemental.")),
        Field("sources", _("Sources"), max_length=500, help=_("D'où viennent les données ou les travaux.")),
        Field("nature", _("Nature des données analysées"), Kind.CHOICE, choices=DATA_NATURES),
        Field("department", _("Département"), Kind.DEPARTMENT, help=_("Code ou nom, ex. 03 ou Allier.")),
        Field("file", _("Fichier"), Kind.FILE,
              help=_("Envoyez le document en pièce jointe : PDF, ODT, DOCX, ODS, XLSX, CSV, ODP ou PPTX.")),
        Field("summary", _("Résumé"), required=False, max_length=1500,
              help=_("Quelques lignes pour présenter le document (facultatif).")),
    ),
)

cards.register("document", cards.Card(
    form=DOCUMENT_FORM,
    fields=("type", "date", "author", "keywords", "sources", "nature", "department"),
    long_text="summary",
    review_heading=_("Nouveau document {id} à relire"),
    reminder_title=_("Critères d'archivage (rappel) :"),
    reminder=tuple(t.label for t in ARCHIVING_CRITERIA),
    announce_heading=_("Nouveau document archivé : {id} — {title}"),
))


async def submit_document(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> list[Reply]:
    file = answers["file"]
    stored = await ctx.repo.files.add(
        sha256=file["sha256"], name=file["name"], mime=file["mime"], size=file["size"], path=file["path"],
        uploaded_by_id=ctx.person.id,
    )
    earlier = [
        i for i in await ctx.repo.items.with_file(stored.id)
        if i.status not in (review.Status.REJECTED, review.Status.WITHDRAWN)
    ]
    if earlier:
        raise Invalid(_("Ce fichier a déjà été soumis : {id} ({status}). Envoyez un autre fichier (« modifier 9 ») "
                        "ou abandonnez (« annuler »).").format(id=earlier[0].readable_id,
                                                              status=review.status_label(earlier[0].status)))
    item = await ctx.repo.items.create(
        "document", title=answers["title"], submitter_id=ctx.person.id, fields=answers,
        department=answers.get("department"), file_id=stored.id,
    )
    rid = str(item.readable_id)
    await ctx.repo.audit.append(rid, "submit", actor_id=ctx.person.id, to_state=item.status)
    await notify.to_review(ctx, await cards.review_card(ctx, item), f"review:{rid}")
    return [Reply.success(
        str(_("Merci ! Votre document est enregistré sous {id}.")).format(id=rid),
        str(_("L'ONPE va le relire selon ses critères d'archivage ; vous serez prévenu ici de sa décision.")),
        fill(str(_("Suivi : {cmd}")), cmd=code(f"{ctx.prefix}statut {rid}")),
    )]


registry.add_flow("document", Flow(DOCUMENT_FORM, submit_document))


@command(
    "soumettre",
    aliases=["submit"],
    family="documents",
    help=_("Soumet un document à l'ONPE, par un dialogue guidé (type, titre, date, auteur, fichier…)."),
    examples=["soumettre"],
)
async def submit(ctx: Context) -> list[Reply]:
    return await start_dialog(ctx, "document")


async def start_dialog(ctx: Context, name: str, context: dict[str, Any] | None = None) -> list[Reply]:
    """Start a dialog; one started in a shared room goes on in the person's DM."""
    busy = in_progress(ctx.dialog.flows, await ctx.dialog.active(ctx))
    if busy is not None:
        raise UserError(busy)
    first = await ctx.dialog.start(ctx, name, context)
    if ctx.message.room_kind is RoomKind.DIRECT:
        return [first]
    await notify.to_person(ctx, ctx.message.platform, ctx.message.sender, first,
                           f"dialog-start:{ctx.message.event_id}")
    return [Reply.text(str(_("Je vous écris en message direct pour la suite.")))]


def item_summary_line(item: Item) -> str:
    return f"{item.readable_id} — {item.title} : {review.status_label(item.status)}"


def submissions(items: list[Item], prefix: str) -> Reply:
    """A person's submissions and their states (`statut`, and Slack's App Home)."""
    if not items:
        return Reply.text(fill(str(_("Vous n'avez encore rien soumis. Pour commencer : {cmd}")),
                               cmd=code(f"{prefix}soumettre")))
    return Reply.card([Heading.of(str(_("Vos soumissions"))), Bullets.of([item_summary_line(i) for i in items])])


@command(
    "statut",
    aliases=["status"],
    family="documents",
    help=_("Où en sont vos documents et pratiques soumis, ou l'un d'eux."),
    args=[Arg("id", _("identifiant, ex. D-12"), required=False)],
    examples=["statut", "statut D-12"],
)
async def status(ctx: Context, id: str | None) -> Reply | list[Reply]:
    if id is None:
        return submissions(await ctx.repo.items.by_submitter(ctx.person.id), ctx.prefix)
    item = await review.find_item(ctx, id)
    if item.submitter_id != ctx.person.id and not ctx.has(Role.REVIEWER):
        raise UserError(_("{id} n'est pas l'une de vos soumissions.").format(id=item.readable_id))
    entries = await ctx.repo.audit.for_subject(str(item.readable_id))
    history = [
        f"{e.at.astimezone(ctx.config.tz).strftime('%d/%m/%Y %H:%M')} — {review.action_label(e.action)}"
        + (f" : {e.detail['note']}" if e.detail and e.detail.get("note") else "")
        for e in entries
    ]
    replies = [Reply.card([
        Heading.of(item_summary_line(item)),
        Bullets.of(history) if history else Para.of("—"),
    ])]
    if item.status == review.Status.NEEDS_INFO and item.submitter_id == ctx.person.id:
        from commands.review import start_info_answer

        replies.extend(await start_info_answer(ctx, item))
    if item.feature_consent == "asked" and item.submitter_id == ctx.person.id:
        from commands.review import start_consent_answer

        replies.extend(await start_consent_answer(ctx, item))
    return replies


@command(
    "voir",
    aliases=["show"],
    family="documents",
    help=_("Affiche un document archivé, une pratique publiée ou une entrée de la FAQ (ou l'une de vos "
           "soumissions en cours)."),
    args=[Arg("id", _("identifiant, ex. D-12, P-7 ou F-3"))],
    examples=["voir D-12"],
)
async def show(ctx: Context, id: str) -> Reply:
    faq_key = re.fullmatch(r"\s*[Ff]-?(\d+)\s*", id)
    if faq_key:
        entry = await ctx.repo.faq.get(int(faq_key.group(1)))
        if entry is None:
            raise UserError(_("Il n'y a pas d'entrée F-{n} dans la FAQ.").format(n=faq_key.group(1)))
        return Reply.card([Heading.of(f"F-{entry.id} — {entry.question}"), Para.of(entry.answer)])
    item = await review.find_item(ctx, id)
    public = item.status in (review.Status.ARCHIVED, review.Status.PUBLISHED)
    if not public and item.submitter_id != ctx.person.id and not ctx.has(Role.REVIEWER):
        raise UserError(_("{id} n'est pas (encore) publié : seuls la personne qui l'a soumis et les relecteurs "
                          "peuvent le voir.").format(id=item.readable_id))
    blocks: list[Block] = [
        Heading.of(f"{item.readable_id} — {item.title}"),
        Para.of(str(_("Statut : {s}")).format(s=review.status_label(item.status))),
        *cards.item_blocks(item),
    ]
    return Reply.card(blocks, stored_file=cards.file_ref(item))


async def withdraw(ctx: Context, text: str) -> Reply:
    item = await review.find_item(ctx, text)

    async def effects(ctx: Context, item: Item) -> None:
        rid = str(item.readable_id)
        sentence = str(_("{id} a été retiré par la personne qui l'avait soumis.")).format(id=rid)
        await notify.to_review(ctx, Reply.text(sentence, topic=rid), f"withdraw:{rid}")

    await review.apply(ctx, item, "withdraw", effects=effects)
    return Reply.success(str(_("{id} est retiré : l'ONPE ne le relira pas.")).format(id=item.readable_id))
