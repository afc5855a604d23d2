"""ONPE's side of the circuit, in the review room: the queue, claiming, approving (archive and announce),
rejecting, asking for more, featuring with consent, the newsletter draft, and the reactions ✅ ❌ ❓ ✋."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot import notify, review
from bot.context import Context
from bot.dialogs import Flow
from bot.errors import UserError
from bot.forms import Field, Form, Kind
from bot.glossary import FEATURING_RULE
from bot.i18n import _
from bot.messages import Attachment, Reaction, Reply
from bot.registry import Arg, Role, Where
from bot.rich import Bullets, Heading
from commands import command, registry
from commands.cards import CARDS, announcement
from storage.models import Item
from storage.repositories import Repos

REACTIONS = {"✅": "approve", "❌": "reject", "❓": "request_info", "✋": "claim"}
NEWSLETTER_KEY = "newsletter:last"


def age(since: datetime, now: datetime) -> str:
    days = (now - since).days
    if days >= 1:
        return str(_("{n} j")).format(n=days)
    hours = int((now - since).total_seconds() // 3600)
    return str(_("{n} h")).format(n=hours)


async def in_thread(ctx: Context, item: Item, text: str, key: str) -> None:
    """Said in the item's thread of the review room."""
    await notify.to_review(ctx, Reply.text(text, topic=str(item.readable_id)), key)


async def do_claim(ctx: Context, item: Item) -> list[Reply]:
    await review.apply(ctx, item, "claim")
    rid = str(item.readable_id)
    await review.tell_submitter(
        ctx,
        item,
        Reply.text(str(_("Votre soumission {id} est en cours de relecture par l'ONPE.")).format(id=rid)),
        f"claim:{rid}",
    )
    return [
        Reply.success(
            str(_("✋ {id} est pris en charge par {who}.")).format(id=rid, who=ctx.person.display_name), topic=rid
        )
    ]


async def do_approve(ctx: Context, item: Item, note: str | None) -> list[Reply]:
    async def archive_and_announce(ctx: Context, item: Item) -> None:
        rid = str(item.readable_id)
        verb = _("archivée") if item.kind == "document" else _("publiée")  # agrees with « votre soumission »
        lines = [
            str(_("Bonne nouvelle : votre soumission {id} « {title} » est {verb} par l'ONPE.")).format(
                id=rid, title=item.title, verb=verb
            )
        ]
        if note:
            lines.append(str(_("Note de l'ONPE : {note}")).format(note=note))
        await review.tell_submitter(ctx, item, Reply.success(*lines), f"decision:{rid}")
        await notify.to_announcements(ctx, announcement(item), f"announce:{rid}")

    await review.apply(ctx, item, "approve", note=note, effects=archive_and_announce)
    rid = str(item.readable_id)
    return [
        Reply.success(
            str(_("✅ {id} {verb} par {who} ; l'annonce part dans les salons d'annonces.")).format(
                id=rid, verb=review.status_label(item.status), who=ctx.person.display_name
            ),
            topic=rid,
        )
    ]


async def do_reject(ctx: Context, item: Item, reason: str) -> list[Reply]:
    async def tell(ctx: Context, item: Item) -> None:
        rid = str(item.readable_id)
        await review.tell_submitter(
            ctx,
            item,
            Reply.text(
                str(_("Votre soumission {id} « {title} » n'a pas été retenue par l'ONPE.")).format(
                    id=rid, title=item.title
                ),
                str(_("Motif : {reason}")).format(reason=reason),
            ),
            f"decision:{rid}",
        )

    await review.apply(ctx, item, "reject", note=reason, effects=tell)
    return [
        Reply.success(
            str(_("❌ {id} refusé par {who}. Motif : {reason}")).format(
                id=item.readable_id, who=ctx.person.display_name, reason=reason
            ),
            topic=str(item.readable_id),
        )
    ]


async def do_request_info(ctx: Context, item: Item, question: str) -> list[Reply]:
    async def ask(ctx: Context, item: Item) -> None:
        rid = str(item.readable_id)
        submitter = await ctx.repo.people.get(item.submitter_id)
        if submitter is None:
            return
        text = [
            str(_("L'ONPE demande un complément sur {id} « {title} » :")).format(id=rid, title=item.title),
            question,
        ]
        if await ctx.repo.dialogs.get(submitter.id) is None:
            await ctx.dialog.start_for(ctx, submitter, "info_answer", {"item": rid})
            text.append(str(_("Répondez simplement ici : votre réponse sera transmise à l'ONPE.")))
        else:
            text.append(
                str(_("Terminez d'abord votre saisie en cours, puis tapez « statut {id} » pour répondre.")).format(
                    id=rid
                )
            )
        await notify.to_person(
            ctx, submitter.platform, submitter.platform_user_id, Reply.text(*text), f"info:{rid}:{ctx.message.event_id}"
        )

    await review.apply(ctx, item, "request_info", note=question, effects=ask)
    return [
        Reply.success(
            str(_("❓ Complément demandé pour {id} : la réponse arrivera ici.")).format(id=item.readable_id),
            topic=str(item.readable_id),
        )
    ]


async def start_info_answer(ctx: Context, item: Item) -> list[Reply]:
    """The submitter's way back to a pending request for information (`statut ID`)."""
    if await ctx.dialog.active(ctx) is not None:
        return []
    await ctx.dialog.start_for(ctx, ctx.person, "info_answer", {"item": str(item.readable_id)})
    return [Reply.text(str(_("L'ONPE attend votre complément sur {id} : écrivez-le ici.")).format(id=item.readable_id))]


async def moved_on(ctx: Context, item: Item, action: str) -> Reply | None:
    """Said when `item` was decided while its dialog was being answered (a reason, a complement): returned rather
    than raised, so that the dialog ends with it instead of asking again about what is settled."""
    if review.allowed(item, action):
        return None
    return Reply.error(await review.why_not(ctx, item, action), topic=str(item.readable_id))


async def answer_info(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    item = await review.find_item(ctx, context["item"])
    settled = await moved_on(ctx, item, "answer_info")
    if settled is not None:
        return settled
    text = answers["answer"]

    async def relay(ctx: Context, item: Item) -> None:
        rid = str(item.readable_id)
        await in_thread(
            ctx,
            item,
            str(_("Complément de {who} pour {id} : {text}")).format(who=ctx.person.display_name, id=rid, text=text),
            f"info-answer:{rid}:{ctx.message.event_id}",
        )

    await review.apply(ctx, item, "answer_info", note=text, effects=relay)
    return Reply.success(
        str(_("Merci : votre complément est transmis à l'ONPE, {id} retourne en relecture.")).format(
            id=item.readable_id
        )
    )


INFO_FORM = Form(
    "info_answer", _("Complément demandé par l'ONPE"), (Field("answer", _("Votre complément"), max_length=4000),)
)
REASON_FORM = Form("review_reason", _("Motif"), (Field("reason", _("Motif ou question"), max_length=2000),))
CONSENT_FORM = Form(
    "feature_consent",
    _("Valorisation par l'ONPE"),
    (
        Field(
            "consent", _("Acceptez-vous que l'ONPE mette en avant votre soumission ?"), Kind.YES_NO, help=FEATURING_RULE
        ),
    ),
)


async def reason_given(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> list[Reply]:
    item = await review.find_item(ctx, context["item"])
    settled = await moved_on(ctx, item, context["action"])
    if settled is not None:
        return [settled]
    if context["action"] == "reject":
        return await do_reject(ctx, item, answers["reason"])
    return await do_request_info(ctx, item, answers["reason"])


async def consent_given(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    item = await review.find_item(ctx, context["item"])
    if item.submitter_id != ctx.person.id:  # and the dialog ends: it was never this person's to answer
        return Reply.error(str(_("Seule la personne qui a soumis {id} peut donner son accord.")).format(
            id=item.readable_id))
    given = bool(answers["consent"])
    rid = str(item.readable_id)
    item.feature_consent = "given" if given else "refused"
    item.featured = given
    await ctx.repo.audit.append(rid, "feature_consent", actor_id=ctx.person.id, detail={"given": given})
    verb = _("accepte") if given else _("refuse")
    await in_thread(
        ctx,
        item,
        str(_("{who} {verb} la valorisation de {id}.")).format(who=ctx.person.display_name, verb=verb, id=rid),
        f"consent:{rid}",
    )
    return Reply.success(str(_("Merci, votre réponse est enregistrée.")))


def consent_request(item: Item) -> list[str]:
    return [
        str(
            _("L'ONPE souhaite mettre en avant votre soumission {id} « {title} » (lettre de l'ONPE, site internet).")
        ).format(id=item.readable_id, title=item.title),
        str(FEATURING_RULE),
    ]


async def start_consent_answer(ctx: Context, item: Item) -> list[Reply]:
    """The submitter's way back to a pending request for consent (`statut ID`), when it found them busy."""
    if await ctx.dialog.active(ctx) is not None:
        return []
    await ctx.dialog.start(ctx, "feature_consent", {"item": str(item.readable_id)})
    return [Reply.text(*consent_request(item), str(_("Acceptez-vous ? Répondez « oui » ou « non ».")))]


registry.add_flow("info_answer", Flow(INFO_FORM, answer_info, confirm=False))
registry.add_flow("review_reason", Flow(REASON_FORM, reason_given, confirm=False))
registry.add_flow("feature_consent", Flow(CONSENT_FORM, consent_given, confirm=False))


@command(
    "file",
    aliases=["queue"],
    family="review",
    help=_("Les soumissions en attente, des plus anciennes aux plus récentes."),
    role=Role.REVIEWER,
    where=Where.REVIEW_ROOM,
)
async def queue(ctx: Context) -> Reply:
    items = await ctx.repo.items.in_statuses([str(s) for s in review.PENDING])
    if not items:
        return Reply.text(str(_("Rien en attente : la file est vide.")))
    lines = []
    for item in items:
        claimer = await review.person_name(ctx.repo, item.claimed_by_id) if item.claimed_by_id else None
        status = review.status_label(item.status)
        line = f"{item.readable_id} — {item.title} — {status} — {age(item.created_at, ctx.now)}"
        if claimer:
            line += " — " + str(_("pris par {who}")).format(who=claimer)
        lines.append(line)
    return Reply.card([Heading.of(str(_("{n} soumission(s) en attente")).format(n=len(items))), Bullets.of(lines)])


@command(
    "prendre",
    aliases=["claim"],
    family="review",
    help=_("Prend en charge la relecture d'une soumission."),
    args=[Arg("id", _("ex. D-12"))],
    examples=["prendre D-12"],
    role=Role.REVIEWER,
    where=Where.REVIEW_ROOM,
)
async def claim(ctx: Context, id: str) -> list[Reply]:
    return await do_claim(ctx, await review.find_item(ctx, id))


@command(
    "approuver",
    aliases=["approve"],
    family="review",
    help=_("Archive un document (ou publie une pratique) et l'annonce au réseau."),
    args=[Arg("id", _("ex. D-12")), Arg("note", _("note facultative pour la personne"), required=False, rest=True)],
    examples=["approuver D-12", "approuver D-12 Merci pour ce travail très complet"],
    role=Role.REVIEWER,
    where=Where.REVIEW_ROOM,
)
async def approve(ctx: Context, id: str, note: str | None) -> list[Reply]:
    return await do_approve(ctx, await review.find_item(ctx, id), note)


@command(
    "refuser",
    aliases=["reject"],
    family="review",
    help=_("Refuse une soumission, avec son motif."),
    args=[Arg("id", _("ex. D-12")), Arg("motif", _("le motif, transmis à la personne"), rest=True)],
    examples=["refuser D-12 Document déjà publié sous une autre forme"],
    role=Role.REVIEWER,
    where=Where.REVIEW_ROOM,
)
async def reject(ctx: Context, id: str, motif: str) -> list[Reply]:
    return await do_reject(ctx, await review.find_item(ctx, id), motif)


@command(
    "complement",
    aliases=["request-info"],
    family="review",
    help=_("Demande un complément à la personne qui a soumis."),
    args=[Arg("id", _("ex. D-12")), Arg("question", _("ce que vous demandez"), rest=True)],
    examples=["complement D-12 Pouvez-vous préciser les sources ?"],
    role=Role.REVIEWER,
    where=Where.REVIEW_ROOM,
)
async def request_info(ctx: Context, id: str, question: str) -> list[Reply]:
    return await do_request_info(ctx, await review.find_item(ctx, id), question)


@command(
    "valoriser",
    aliases=["feature"],
    family="review",
    help=_("Propose de mettre en avant une soumission archivée : la personne donne son accord."),
    args=[Arg("id", _("ex. D-12"))],
    examples=["valoriser D-12"],
    role=Role.REVIEWER,
    where=Where.REVIEW_ROOM,
)
async def feature(ctx: Context, id: str) -> Reply:
    item = await review.find_item(ctx, id)
    rid = str(item.readable_id)
    if item.status not in (review.Status.ARCHIVED, review.Status.PUBLISHED):
        raise UserError(
            _("Seule une soumission archivée ou publiée peut être valorisée ; {id} est {status}.").format(
                id=rid, status=review.status_label(item.status)
            )
        )
    if item.feature_consent in ("asked", "given"):
        raise UserError(
            _("L'accord pour {id} est déjà {state}.").format(
                id=rid, state=_("demandé") if item.feature_consent == "asked" else _("donné")
            )
        )
    submitter = await ctx.repo.people.get(item.submitter_id)
    if submitter is None:
        raise UserError(_("Je ne retrouve pas la personne qui a soumis {id}.").format(id=rid))
    item.feature_consent = "asked"
    await ctx.repo.audit.append(rid, "feature_asked", actor_id=ctx.person.id)
    text = consent_request(item)
    if await ctx.repo.dialogs.get(submitter.id) is None:
        await ctx.dialog.start_for(ctx, submitter, "feature_consent", {"item": rid})
        text.append(str(_("Acceptez-vous ? Répondez « oui » ou « non ».")))
    else:  # busy with another dialog: the question waits for them, behind `statut ID`
        text.append(str(_("Terminez d'abord votre saisie en cours, puis tapez « statut {id} » pour répondre.")).format(
            id=rid))
    await notify.to_person(ctx, submitter.platform, submitter.platform_user_id, Reply.text(*text), f"feature:{rid}")
    return Reply.success(str(_("Accord demandé à la personne qui a soumis {id}.")).format(id=rid), topic=rid)


@command(
    "lettre",
    aliases=["newsletter"],
    family="review",
    help=_("Prépare la rubrique de la lettre de l'ONPE avec les soumissions valorisées depuis la dernière."),
    role=Role.REVIEWER,
    where=Where.REVIEW_ROOM,
)
async def newsletter(ctx: Context) -> list[Reply]:
    last = await ctx.repo.kv.get(NEWSLETTER_KEY)
    since = datetime.fromisoformat(last) if isinstance(last, str) else None
    items = await ctx.repo.items.featured(since)
    if not items:
        return [Reply.text(str(_("Aucune soumission valorisée (avec accord) depuis la dernière lettre.")))]
    markdown, html_text = newsletter_text(items)
    await ctx.repo.kv.set(NEWSLETTER_KEY, ctx.now.isoformat())
    day = ctx.now.astimezone(ctx.config.tz).strftime("%Y-%m-%d")
    return [
        Reply.text(
            str(_("Brouillon de la lettre : {n} soumission(s) valorisée(s).")).format(n=len(items)),
            file=Attachment(f"lettre-onpe-{day}.md", "text/markdown", markdown.encode()),
        ),
        Reply.text(
            str(_("La même rubrique en HTML :")),
            file=Attachment(f"lettre-onpe-{day}.html", "text/html", html_text.encode()),
        ),
    ]


def newsletter_text(items: list[Item]) -> tuple[str, str]:
    import html

    md = ["# " + str(_("Les travaux des ODPE valorisés par l'ONPE")), ""]
    parts = ["<h1>" + html.escape(str(_("Les travaux des ODPE valorisés par l'ONPE"))) + "</h1>"]
    for item in items:
        fields = item.fields
        where = fields.get("department") or item.department or ""
        md += [f"## {item.title}", "", f"*{item.readable_id} — {where}*", ""]
        parts.append(f"<h2>{html.escape(item.title)}</h2><p><em>{item.readable_id} — {html.escape(where)}</em></p>")
        long_text = CARDS[item.kind].long_text  # a document's summary, a practice's description
        text = fields.get(long_text) if long_text else None
        if text:
            md += [text, ""]
            parts.append(f"<p>{html.escape(text)}</p>")
    return "\n".join(md), "\n".join(parts)


@registry.on_reaction("review")
async def reacted(ctx: Context, reaction: Reaction) -> list[Reply]:
    action = REACTIONS.get(reaction.key.replace("\ufe0f", ""))
    if action is None:
        return []
    ctx.require(Role.REVIEWER)
    if ctx.message.room_kind.value != "review":
        raise UserError(_("Les actions de relecture se font dans le salon de revue."))
    item = await review.find_item(ctx, reaction.prompt.subject)
    if action == "approve":
        return await do_approve(ctx, item, None)
    if action == "claim":
        return await do_claim(ctx, item)
    if item.status not in review.TRANSITIONS[action].sources:
        raise UserError(await review.why_not(ctx, item, action))
    busy = await ctx.dialog.active(ctx)
    if busy is not None:
        # Asking the reason would need a dialog of its own; the one in progress must not be lost for it.
        sentence = (
            _("Votre saisie en cours (« {title} », étape {k}) est conservée. Pour refuser {id} sans la quitter, "
              "tapez ici « {cmd} {id} <motif> ».")
            if action == "reject"
            else _("Votre saisie en cours (« {title} », étape {k}) est conservée. Pour demander un complément sur "
                   "{id} sans la quitter, tapez ici « {cmd} {id} <question> ».")
        )
        raise UserError(sentence.format(
            title=ctx.dialog.flows[busy.form].form.title, k=busy.step + 1, id=item.readable_id,
            cmd=f"{ctx.prefix}{'refuser' if action == 'reject' else 'complement'}",
        ))
    await ctx.dialog.start(ctx, "review_reason", {"item": str(item.readable_id), "action": action})
    prompt = (
        _("Motif du refus de {id} ? Écrivez-le ici (ou « annuler »).")
        if action == "reject"
        else _("Quel complément demander pour {id} ? Écrivez-le ici (ou « annuler »).")
    )
    return [Reply.text(prompt.format(id=item.readable_id), topic=str(item.readable_id))]


async def remind_waiting(repo: Repos, platforms: tuple[str, ...], now: datetime, after_days: int) -> int:
    """Once a day, in the review room: what has waited longer than `after_days` (one message a day at most)."""
    items = [
        i
        for i in await repo.items.in_statuses([str(s) for s in review.PENDING])
        if now - i.created_at >= timedelta(days=after_days)
    ]
    if not items:
        return 0
    lines = [f"{i.readable_id} — {i.title} — {review.status_label(i.status)} — {age(i.created_at, now)}" for i in items]
    reply = Reply.card(
        [
            Heading.of(
                str(_("Rappel : {n} soumission(s) attendent depuis plus de {d} jours")).format(
                    n=len(items), d=after_days
                )
            ),
            Bullets.of(lines),
        ]
    )
    await notify.broadcast(repo, platforms, notify.REVIEW, reply, f"reminder:{now.date().isoformat()}")
    return len(items)
