"""Inspiring practices (seed 004): `pratique` declares one (level 1, reviewed by the selection committee in
the review room), `pratique fiche` lets ONPE register one of its "fiches dispositifs" (level 2, published)."""

from __future__ import annotations

from typing import Any

from bot import indexing, notify, review
from bot.context import Context
from bot.dialogs import Flow
from bot.errors import UserError
from bot.forms import Field, Form, Kind
from bot.glossary import (
    DESCRIPTION_MAX_LENGTH,
    ENTITY_NAME_MAX_LENGTH,
    INTERVENTION_TYPES,
    PRACTICE_ACCEPTANCE,
    PRACTICE_CONDITIONS,
    PUBLICS,
    RELAYS,
    SCALES,
    THEMES,
    TITLE_MAX_LENGTH,
)
from bot.i18n import LazyText, _
from bot.messages import Reply, RoomKind
from bot.registry import Arg, Role, Usage
from bot.rich import code, fill
from commands import cards, command, registry
from commands.documents import start_dialog

OTHER_HINT = _("Répondez par le numéro ou le nom ; pour « Autre », précisez : « Autre : … ».")


class _Conditions(LazyText):
    """The three conditions of seed 004 and the sentence to accept, shown as one help text."""

    def __init__(self) -> None:
        super().__init__("")

    def __str__(self) -> str:
        lines = [f"• {condition}" for condition in PRACTICE_CONDITIONS]
        return "\n".join([*lines, str(_("Répondez « oui » si : {accept}.")).format(accept=PRACTICE_ACCEPTANCE)])


PRACTICE_FIELDS = (
    Field("date", _("Date de mise en œuvre de la pratique"), Kind.DATE, help=_("Au format JJ/MM/AAAA.")),
    Field("entity", _("Nom de l'entité"), max_length=ENTITY_NAME_MAX_LENGTH,
          help=_("L'association, le service ou le département qui porte la pratique.")),
    Field("title", _("Intitulé de la pratique"), max_length=TITLE_MAX_LENGTH),
    Field("description", _("Description de la pratique"), max_length=DESCRIPTION_MAX_LENGTH),
    Field("scale", _("Échelle de l'action"), Kind.CHOICE, choices=SCALES),
    Field("intervention", _("Type d'intervention"), Kind.CHOICE, choices=INTERVENTION_TYPES, help=OTHER_HINT),
    Field("theme", _("Thématique"), Kind.CHOICE, choices=THEMES, help=OTHER_HINT),
    Field("public", _("Public visé"), Kind.CHOICE, choices=PUBLICS, help=OTHER_HINT),
    Field("relay", _("Relais de l'implémentation"), Kind.CHOICE, choices=RELAYS, help=OTHER_HINT),
    Field("department", _("Localisation (département)"), Kind.DEPARTMENT, help=_("Code ou nom, ex. 03 ou Allier.")),
)

PRACTICE_FORM = Form(
    name="practice",
    title=_("Déclarer une pratique inspirante"),
    intro=_("Ce recueil fait connaître les pratiques départementales et associatives. Votre déclaration sera "
            "examinée par le comité de sélection avant d'être publiée."),
    fields=(Field("conditions", _("Conditions préalables"), Kind.CONSENT, help=_Conditions()), *PRACTICE_FIELDS),
)

FICHE_FORM = Form(
    name="fiche",
    title=_("Enregistrer une fiche dispositif de l'ONPE"),
    fields=(
        *PRACTICE_FIELDS,
        Field("objectives", _("Objectifs du projet"), max_length=DESCRIPTION_MAX_LENGTH),
        Field("means", _("Moyens nécessaires"), max_length=DESCRIPTION_MAX_LENGTH),
        Field("keys", _("Clés de réussite"), max_length=DESCRIPTION_MAX_LENGTH),
        Field("results", _("Résultats attendus"), max_length=DESCRIPTION_MAX_LENGTH),
        Field("difficulties", _("Difficultés possibles"), required=False, max_length=DESCRIPTION_MAX_LENGTH),
    ),
)

cards.register("practice", cards.Card(
    form=FICHE_FORM,  # its fields include a declaration's; those a declaration lacks are simply not shown
    fields=("entity", "date", "scale", "intervention", "theme", "public", "relay", "department",
            "objectives", "means", "keys", "results", "difficulties"),
    long_text="description",
    review_heading=_("Nouvelle pratique inspirante {id} à examiner"),
    reminder_title=_("Pour le comité de sélection :"),
    reminder=(
        _("Les informations sont-elles exactes et suffisantes pour une fiche consultable par tous ?"),
        _("La pratique est-elle pertinente, originale, et ses effets sont-ils décrits ?"),
        _("Le département d'implantation a-t-il donné son accord ?"),
    ),
    announce_heading=_("Nouvelle pratique inspirante publiée : {id} — {title}"),
))


async def submit_practice(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    fields = {k: v for k, v in answers.items() if k != "conditions"}
    item = await ctx.repo.items.create(
        "practice", title=answers["title"], submitter_id=ctx.person.id, fields=fields,
        department=answers.get("department"),
    )
    rid = str(item.readable_id)
    await ctx.repo.audit.append(rid, "submit", actor_id=ctx.person.id, to_state=item.status,
                                detail={"conditions_accepted_at": ctx.now.isoformat()})
    await notify.to_review(ctx, await cards.review_card(ctx, item), f"review:{rid}")
    return Reply.success(
        str(_("Merci ! Votre pratique est enregistrée sous {id}.")).format(id=rid),
        str(_("Le comité de sélection va l'examiner ; vous serez prévenu ici de sa décision.")),
        fill(str(_("Suivi : {cmd}")), cmd=code(f"{ctx.prefix}statut {rid}")),
    )


async def submit_fiche(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    item = await ctx.repo.items.create(
        "practice", title=answers["title"], submitter_id=ctx.person.id, fields={**answers, "onpe_fiche": True},
        department=answers.get("department"), status=str(review.Status.PUBLISHED),
    )
    rid = str(item.readable_id)
    await ctx.repo.audit.append(rid, "publish_fiche", actor_id=ctx.person.id, to_state=item.status)
    await indexing.follow(ctx.repo, item)
    await notify.to_announcements(ctx, cards.announcement(item), f"announce:{rid}")
    return Reply.success(str(_("Fiche dispositif de l'ONPE publiée sous {id} ; l'annonce part dans les salons "
                               "d'annonces.")).format(id=rid), topic=rid)


registry.add_flow("practice", Flow(PRACTICE_FORM, submit_practice))
registry.add_flow("fiche", Flow(FICHE_FORM, submit_fiche))


@command(
    "pratique",
    aliases=["practice"],
    family="documents",
    help=_("Déclare une pratique inspirante (recueil de France Enfance Protégée), par un dialogue guidé."),
    args=[Arg("fiche", _("« fiche » : une fiche dispositif de l'ONPE (relecteurs)"), required=False)],
    usages=[Usage("fiche", _("relecteurs, salon de revue : enregistre et publie une fiche dispositif de l'ONPE"))],
    examples=["pratique", "pratique fiche"],
)
async def practice(ctx: Context, fiche: str | None) -> list[Reply]:
    if fiche is None:
        return await start_dialog(ctx, "practice")
    if fiche.lower() != "fiche":
        raise UserError(_("« {v} » : tapez « pratique » pour déclarer une pratique, ou « pratique fiche ».").format(
            v=fiche))
    ctx.require(Role.REVIEWER)
    if ctx.message.room_kind is not RoomKind.REVIEW:
        raise UserError(_("Les fiches dispositifs s'enregistrent dans le salon de revue."))
    return await start_dialog(ctx, "fiche")
