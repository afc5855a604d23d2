"""`annuler|cancel` and `retour|back`: leave or step back in the dialog in progress; `annuler ID` withdraws."""

from __future__ import annotations

from bot.context import Context
from bot.i18n import _
from bot.messages import Reply
from bot.registry import Arg
from commands import command


@command(
    "annuler",
    aliases=["cancel"],
    family="dialogs",
    help=_("Abandonne la saisie en cours, ou retire une soumission en attente (annuler D-12)."),
    args=[Arg("id", _("identifiant d'une soumission à retirer, ex. D-12"), required=False)],
    examples=["annuler", "annuler D-12"],
)
async def cancel(ctx: Context, id: str | None) -> Reply:
    if id is not None:
        from commands.documents import withdraw

        return await withdraw(ctx, id)
    return await ctx.dialog.cancel(ctx)


@command(
    "retour",
    aliases=["back"],
    family="dialogs",
    help=_("Revient à la question précédente de la saisie en cours."),
)
async def back(ctx: Context) -> Reply:
    return await ctx.dialog.back(ctx)
