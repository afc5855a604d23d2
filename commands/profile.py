"""`profil|profile`: what the bot knows of you — your département and your language — and how to change it."""

from __future__ import annotations

from bot.context import Context
from bot.errors import UserError
from bot.forms import Invalid, parse_department
from bot.i18n import LANGUAGES, _, language
from bot.messages import Reply
from bot.registry import Arg, Role, Usage
from bot.rich import Fields, Heading
from commands import command
from storage import departments
from storage.normalize import fold

DEPARTMENT_WORDS = {"departement", "department", "dept", "dep"}
LANGUAGE_WORDS = {"langue", "language", "lang"}
CLEAR = {"-", "aucun", "aucune", "none"}
LANGUAGE_NAMES = {"fr": "français", "en": "English"}


def department_label(code: str | None) -> str:
    if not code:
        return str(_("non renseigné"))
    found = departments.get(code)
    return f"{code} — {found.name}" if found else code


def card(ctx: Context, title: str) -> Reply:
    person = ctx.person
    roles = [str(_("relecteur ONPE"))] if ctx.has(Role.REVIEWER) else []
    if ctx.has(Role.ADMIN):
        roles.append(str(_("administrateur")))
    lang = person.language or ctx.config.language
    return Reply.card(
        [
            Heading.of(title),
            Fields.of(
                [
                    (str(_("Nom")), person.display_name or ctx.message.sender),
                    (str(_("Identifiant")), ctx.message.sender),
                    (str(_("Département")), department_label(person.department)),
                    (str(_("Langue")), LANGUAGE_NAMES[lang]),
                    (str(_("Rôles")), ", ".join(roles) or str(_("référent"))),
                ]
            ),
        ]
    )


def resolve_department(text: str) -> str:
    try:
        return parse_department(text)
    except Invalid as exc:
        raise UserError(exc.message) from None


@command(
    "profil",
    aliases=["profile"],
    family="profile",
    help=_("Affiche votre profil, ou change votre département ou votre langue."),
    args=[
        Arg("reglage", _("departement ou langue"), required=False),
        Arg("valeur", _("code ou nom du département, ou fr / en"), required=False, rest=True),
    ],
    usages=[
        Usage("departement <code ou nom>", _("votre département, ex. 03 ou Allier (- pour l'effacer)")),
        Usage("langue fr|en", _("la langue des réponses du bot")),
    ],
    examples=["profil", "profil departement 03", "profil langue en"],
)
async def profile(ctx: Context, reglage: str | None, valeur: str | None) -> Reply:
    if reglage is None:
        return card(ctx, str(_("Votre profil")))
    setting = fold(reglage)
    if valeur is None:
        raise UserError(_("Indiquez la nouvelle valeur, ex. « profil departement 03 » ou « profil langue en »."))
    if setting in DEPARTMENT_WORDS:
        code = None if valeur.strip() in CLEAR else resolve_department(valeur)
        await ctx.repo.people.set_department(ctx.person, code)
        return card(ctx, str(_("Département enregistré.")))
    if setting in LANGUAGE_WORDS:
        lang = fold(valeur)[:2]
        if lang not in LANGUAGES:
            raise UserError(_("Langue inconnue : « {v} ». Choisissez fr ou en.").format(v=valeur))
        await ctx.repo.people.set_language(ctx.person, lang)
        with language(lang):
            return card(ctx, str(_("Langue enregistrée.")))
    raise UserError(_("Réglage inconnu : « {r} ». Choisissez departement ou langue.").format(r=reglage))
