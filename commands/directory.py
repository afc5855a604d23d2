"""`annuaire|directory`: the ODPE contacts of a département, found by code, name or region; admins edit them."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context
from bot.errors import UserError
from bot.i18n import LazyText, _
from bot.messages import Reply, Tone
from bot.registry import Arg, Role, Usage
from bot.rich import Block, Doc, Fields, Heading, Para, Span, code, fill
from commands import command
from storage import departments
from storage.contacts_csv import validate_email, validate_phone
from storage.departments import Department
from storage.models import Contact
from storage.normalize import fold

MAX_CARDS = 4  # more matches than this are listed by name, to be narrowed down

# Field names people type (French first, English aliases) -> contact attribute.
FIELD_NAMES: dict[str, str] = {
    "nom": "name",
    "name": "name",
    "fonction": "role",
    "role": "role",
    "email": "email",
    "courriel": "email",
    "mail": "email",
    "telephone": "phone",
    "tel": "phone",
    "phone": "phone",
    "structure": "organisation",
    "organisation": "organisation",
    "organization": "organisation",
    "adresse": "address",
    "address": "address",
}

FIELD_LABELS: dict[str, LazyText] = {
    "name": _("Contact"),
    "role": _("Fonction"),
    "email": _("Courriel"),
    "phone": _("Téléphone"),
    "organisation": _("Structure"),
    "address": _("Adresse"),
}

ACTIONS = {
    "modifier": "update",
    "edit": "update",
    "ajouter": "add",
    "add": "add",
    "retirer": "remove",
    "remove": "remove",
}


def contact_fields(contact: Contact) -> Fields:
    rows: list[tuple[str, str | Span]] = []
    for attribute, label in FIELD_LABELS.items():
        value = getattr(contact, attribute)
        if not value:
            continue
        if attribute == "email":
            rows.append((str(label), Span(value, href=f"mailto:{value}")))
        else:
            rows.append((str(label), value))
    return Fields.of(rows)


def department_blocks(department: Department, contacts: Sequence[Contact]) -> list[Block]:
    blocks: list[Block] = [Heading.of(f"{department.code} — {department.name} ({department.region})")]
    if not contacts:
        blocks.append(Para.of(str(_("Aucun contact ODPE n'est encore enregistré pour ce département."))))
    for index, contact in enumerate(contacts, start=1):
        if len(contacts) > 1:
            blocks.append(Para.of(str(_("Contact n° {n}")).format(n=index)))
        blocks.append(contact_fields(contact))
    return blocks


async def show(ctx: Context, query: str) -> Reply:
    matches = departments.search(query)
    if not matches:
        first = _("Aucun département ne correspond à « {q} ».").format(q=query)
        hints = departments.suggest(query)
        if hints:
            return Reply.error(
                first,
                str(_("Vouliez-vous dire : {names} ?")).format(names=", ".join(f"{d.name} ({d.code})" for d in hints)),
            )
        return Reply.error(first, str(_("Donnez un code (ex. 03), un nom (ex. Allier) ou une région.")))
    if len(matches) > MAX_CARDS:
        names = ", ".join(f"{d.code} {d.name}" for d in matches)
        return Reply.text(
            str(_("{n} départements correspondent à « {q} » : {names}.")).format(n=len(matches), q=query, names=names),
            fill(str(_("Précisez, par exemple {cmd}.")), cmd=code(f"{ctx.prefix}annuaire {matches[0].code}")),
        )
    contacts = await ctx.repo.directory.for_departments([d.code for d in matches])
    blocks: list[Block] = []
    for department in matches:
        blocks.extend(department_blocks(department, contacts.get(department.code, [])))
    return Reply.card(blocks)


def parse_changes(words: Sequence[str], *, require_name: bool) -> dict[str, str | None]:
    """`champ=valeur` pairs into contact changes, each value checked; `champ=-` empties a field."""
    if not words:
        raise UserError(_("Indiquez au moins un champ, ex. email=prenom.nom@departement.fr"))
    changes: dict[str, str | None] = {}
    for word in words:
        key, sep, value = word.partition("=")
        attribute = FIELD_NAMES.get(fold(key))
        if not sep or attribute is None:
            raise UserError(
                _("« {w} » n'est pas de la forme champ=valeur. Champs possibles : {fields}.").format(
                    w=word, fields="nom, fonction, email, telephone, structure, adresse"
                )
            )
        value = value.strip()
        if value in ("", "-"):
            changes[attribute] = None
            continue
        if attribute == "email":
            try:
                value = validate_email(value)
            except ValueError:
                raise UserError(_("« {v} » n'est pas une adresse électronique valide.").format(v=value)) from None
        elif attribute == "phone":
            try:
                value = validate_phone(value)
            except ValueError:
                raise UserError(
                    _("« {v} » n'est pas un numéro de téléphone valide (ex. 04 70 34 15 30).").format(v=value)
                ) from None
        changes[attribute] = value
    if ("name" in changes or require_name) and not changes.get("name"):
        raise UserError(_("Le nom du contact est obligatoire (nom=…)."))
    return changes


def target_department(text: str) -> Department:
    found = departments.get(text)
    if found is None:
        raise UserError(_("« {q} » n'est pas un code de département (ex. 03, 2A, 971).").format(q=text))
    return found


async def edit(ctx: Context, action: str, words: Sequence[str]) -> Reply:
    ctx.require(Role.ADMIN)
    if not words:
        raise UserError(_("Indiquez le code du département, ex. 03."))
    department = target_department(words[0])
    actor = ctx.message.sender
    if action == "remove":
        if len(words) != 2 or not words[1].isdigit():
            raise UserError(_("Indiquez le numéro du contact à retirer, ex. « annuaire retirer 03 2 »."))
        if not await ctx.repo.directory.remove(department.code, int(words[1])):
            raise UserError(_("Il n'y a pas de contact n° {n} pour {name}.").format(n=words[1], name=department.name))
        detail: dict[str, object] = {"position": int(words[1])}
        done = _("Contact retiré.")
    elif action == "add":
        changes = parse_changes(words[1:], require_name=True)
        await ctx.repo.directory.add(department.code, changes, actor)
        detail, done = dict(changes), _("Contact ajouté.")
    else:
        changes = parse_changes(words[1:], require_name=False)
        await ctx.repo.directory.update_primary(department.code, changes, actor)
        detail, done = dict(changes), _("Contact mis à jour.")
    await ctx.repo.audit.append(
        f"annuaire:{department.code}", f"directory.{action}", actor_id=ctx.person.id, detail=detail
    )
    contacts = await ctx.repo.directory.for_departments([department.code])
    blocks = department_blocks(department, contacts.get(department.code, []))
    return Reply(Doc((Para.of(str(done)), *blocks)), tone=Tone.SUCCESS)


@command(
    "annuaire",
    aliases=["directory"],
    family="directory",
    help=_("Coordonnées de l'ODPE d'un département."),
    args=[Arg("departement", _("code, nom ou région, ex. 03, Allier ou Bretagne"), rest=True)],
    usages=[
        Usage("modifier <code> champ=valeur…", _("administrateurs : corrige le contact principal")),
        Usage("ajouter <code> nom=… [champ=valeur…]", _("administrateurs : ajoute un contact")),
        Usage("retirer <code> <n°>", _("administrateurs : retire un contact")),
    ],
    examples=["annuaire 03", "annuaire allier", 'annuaire modifier 03 telephone="04 70 34 15 30"'],
)
async def directory(ctx: Context, departement: str) -> Reply:
    words = ctx.words
    action = ACTIONS.get(fold(words[0])) if words else None
    if action is not None and len(words) > 1:
        return await edit(ctx, action, words[1:])
    return await show(ctx, departement)
