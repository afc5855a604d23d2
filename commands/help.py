"""`aide|help`: the list of commands one may use here, or the detail of one; all generated from the registry."""

from __future__ import annotations

from bot.context import Context
from bot.i18n import LazyText, _
from bot.messages import Reply
from bot.permissions import ROOMS_FOR, SATISFIES
from bot.registry import Arg, Command, Role, Where
from bot.rich import Block, Bullets, Heading, Para, Span, bold, code, fill
from commands import command

FAMILY_TITLES: dict[str, LazyText] = {
    "help": _("Aide"),
    "profile": _("Votre profil"),
    "directory": _("Annuaire des ODPE"),
    "documents": _("Documents"),
    "questions": _("Questions"),
    "calendar": _("Agenda partagé"),
    "dialogs": _("Saisie en cours"),
    "review": _("Relecture (salon de revue)"),
}

ROLE_NOTES: dict[Role, LazyText] = {
    Role.REVIEWER: _("réservée aux relecteurs de l'ONPE"),
    Role.ADMIN: _("réservée aux administrateurs du bot"),
}

WHERE_NOTES: dict[Where, LazyText] = {
    Where.REVIEW_ROOM: _("dans le salon de revue uniquement"),
    Where.DIRECT: _("en message direct uniquement"),
}


def help_item(cmd: Command, prefix: str) -> list[Span]:
    return [code(cmd.usage(prefix)), Span(" — " + str(cmd.help))]


def usable(cmd: Command, ctx: Context) -> bool:
    """Shown in the list: what this person may run in this room."""
    return bool(ctx.roles & SATISFIES[cmd.role]) and ctx.message.room_kind in ROOMS_FOR[cmd.where]


def overview(ctx: Context) -> Reply:
    blocks: list[Block] = [Heading.of(str(_("Commandes d'odpe-bot")))]
    families: dict[str, list[Command]] = {}
    for cmd in ctx.registry:
        if usable(cmd, ctx):
            families.setdefault(cmd.family, []).append(cmd)
    for family, cmds in families.items():
        title = FAMILY_TITLES.get(family)
        blocks.append(Para.of(bold(str(title) if title else family)))
        blocks.append(Bullets.of([help_item(c, ctx.prefix) for c in cmds]))
    blocks.append(
        Para.of(fill(str(_("Détail d'une commande : {cmd}")), cmd=code(f"{ctx.prefix}aide <commande>")))
    )
    return Reply.card(blocks)


def detail(cmd: Command, ctx: Context) -> Reply:
    names = ", ".join(f"{ctx.prefix}{n}" for n in (cmd.name, *cmd.aliases))
    blocks: list[Block] = [
        Heading.of(names),
        Para.of(str(cmd.help)),
        Para.of([Span(str(_("Utilisation : "))), code(cmd.usage(ctx.prefix))]),
    ]
    if cmd.args:
        blocks.append(Bullets.of([[code(a.name), Span(" — " + str(a.help))] for a in cmd.args]))
    if cmd.usages:
        blocks.append(Para.of(str(_("Autres formes :"))))
        blocks.append(
            Bullets.of([[code(f"{ctx.prefix}{cmd.name} {u.args}"), Span(" — " + str(u.help))] for u in cmd.usages])
        )
    if cmd.examples:
        blocks.append(Para.of(str(_("Exemples :"))))
        blocks.append(Bullets.of([code(f"{ctx.prefix}{e}") for e in cmd.examples]))
    notes = [str(n) for n in (ROLE_NOTES.get(cmd.role), WHERE_NOTES.get(cmd.where)) if n]
    if notes:
        blocks.append(Para.of(str(_("Restriction : {notes}.")).format(notes=", ".join(notes))))
    return Reply.card(blocks)


@command(
    "aide",
    aliases=["help"],
    family="help",
    help=_("Liste les commandes, ou explique l'une d'elles."),
    args=[Arg("commande", _("nom d'une commande, ex. annuaire"), required=False)],
    examples=["aide", "aide annuaire"],
)
async def help_command(ctx: Context, commande: str | None) -> Reply:
    if commande is None:
        return overview(ctx)
    cmd = ctx.registry.find(commande.removeprefix(ctx.prefix))
    if cmd is not None:
        return detail(cmd, ctx)
    first = _("Je ne connais pas la commande « {name} ».").format(name=commande)
    nearest = ctx.registry.suggest(commande.removeprefix(ctx.prefix))
    if nearest:
        return Reply.error(
            first, fill(str(_("Vouliez-vous dire {cmd} ?")), cmd=code(f"{ctx.prefix}aide {nearest[0].name}"))
        )
    return Reply.error(first, fill(str(_("Tapez {cmd} pour la liste des commandes.")), cmd=code(f"{ctx.prefix}aide")))
