"""The review of documents and practices as a state machine: each action says where it starts, where it leads
and who may take it; one function applies it — check, update, audit entry, notifications — in one transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot import indexing, lookup, notify
from bot.context import Context
from bot.errors import Forbidden, UserError
from bot.i18n import LazyText, _
from bot.messages import Reply
from bot.registry import Role
from bot.rich import mention
from storage.models import Item, Person
from storage.repositories import Repos


class Status(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    NEEDS_INFO = "needs_info"
    ARCHIVED = "archived"  # a document accepted into the archive
    PUBLISHED = "published"  # a practice accepted for the library
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


PENDING = frozenset({Status.SUBMITTED, Status.IN_REVIEW, Status.NEEDS_INFO})
DECIDED = frozenset({Status.ARCHIVED, Status.PUBLISHED, Status.REJECTED, Status.WITHDRAWN})

STATUS_LABELS: dict[str, LazyText] = {
    Status.SUBMITTED: _("soumis, en attente de relecture"),
    Status.IN_REVIEW: _("en cours de relecture"),
    Status.NEEDS_INFO: _("complément demandé"),
    Status.ARCHIVED: _("archivé"),
    Status.PUBLISHED: _("publié"),
    Status.REJECTED: _("refusé"),
    Status.WITHDRAWN: _("retiré"),
}


ACTION_LABELS: dict[str, LazyText] = {
    "submit": _("soumis"),
    "claim": _("pris en charge"),
    "approve": _("accepté"),
    "reject": _("refusé"),
    "request_info": _("complément demandé"),
    "answer_info": _("complément apporté"),
    "withdraw": _("retiré"),
    "feature_asked": _("valorisation proposée"),
    "feature_consent": _("réponse à la valorisation"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label else action


class Actor(enum.Enum):
    REVIEWER = "reviewer"
    SUBMITTER = "submitter"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status | None  # None: decided by the item's kind (archived for a document, published for a practice)
    actor: Actor


TRANSITIONS: dict[str, Transition] = {
    "claim": Transition(frozenset({Status.SUBMITTED}), Status.IN_REVIEW, Actor.REVIEWER),
    "approve": Transition(PENDING, None, Actor.REVIEWER),
    "reject": Transition(PENDING, Status.REJECTED, Actor.REVIEWER),
    "request_info": Transition(frozenset({Status.SUBMITTED, Status.IN_REVIEW}), Status.NEEDS_INFO, Actor.REVIEWER),
    "answer_info": Transition(frozenset({Status.NEEDS_INFO}), Status.IN_REVIEW, Actor.SUBMITTER),
    "withdraw": Transition(PENDING, Status.WITHDRAWN, Actor.SUBMITTER),
}


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return str(label) if label else status


def accepted_status(item: Item) -> Status:
    return Status.ARCHIVED if item.kind == "document" else Status.PUBLISHED


async def find_item(ctx: Context, text: str) -> Item:
    sentence = _("« {v} » n'est pas un identifiant de document ou de pratique (ex. D-12, P-7).")
    return await lookup.find(text, ("D", "P"), sentence, ctx.repo.items.get)


async def person_name(repo: Repos, person_id: int | None) -> str:
    if person_id is None:
        return str(_("le bot"))
    person: Person | None = await repo.people.get(person_id)
    return person.display_name if person else "?"


def allowed(item: Item, action: str) -> bool:
    """Whether `action` can be taken on `item` in its state (who may take it is `apply`'s check)."""
    return item.status in TRANSITIONS[action].sources


async def state_line(repo: Repos, item: Item, tz: ZoneInfo) -> str:
    """The item's state and its last step, e.g. « État : archivé — accepté par Claire le 03/11/2026 »."""
    line = str(_("État : {state}")).format(state=status_label(item.status))
    entries = await repo.audit.for_subject(str(item.readable_id))
    last = entries[-1] if entries else None
    if last is not None and last.actor_id is not None:
        line += " — " + str(_("{action} par {who} le {day}")).format(
            action=action_label(last.action), who=await person_name(repo, last.actor_id),
            day=last.at.astimezone(tz).strftime("%d/%m/%Y"))
    return line


async def why_not(ctx: Context, item: Item, action: str) -> str:
    """Why `action` cannot be taken on `item` now, in words: who did what, and when."""
    rid = item.readable_id
    entries = await ctx.repo.audit.for_subject(str(rid))
    last = entries[-1] if entries else None
    who = await person_name(ctx.repo, last.actor_id if last else None)
    day = last.at.astimezone(ctx.config.tz).strftime("%d/%m/%Y") if last else "?"
    sentences: dict[str, LazyText] = {
        Status.ARCHIVED: _("{id} a déjà été archivé par {who} le {day}."),
        Status.PUBLISHED: _("{id} a déjà été publié par {who} le {day}."),
        Status.REJECTED: _("{id} a déjà été refusé par {who} le {day}."),
        Status.WITHDRAWN: _("{id} a été retiré par la personne qui l'avait soumis, le {day}."),
        Status.IN_REVIEW: _("{id} est déjà pris en charge par {who} depuis le {day}."),
        Status.NEEDS_INFO: _("{id} attend le complément demandé par {who} le {day}."),
        Status.SUBMITTED: _("{id} n'attend pas de complément : il est en attente de relecture."),
    }
    sentence = sentences.get(item.status, _("{id} est {status}."))
    return sentence.format(id=rid, who=who, day=day, status=status_label(item.status))


Effect = Callable[[Context, Item], Awaitable[None]]


async def apply(
    ctx: Context,
    item: Item,
    action: str,
    *,
    note: str | None = None,
    changes: dict[str, Any] | None = None,
    effects: Effect | None = None,
) -> Item:
    """Take `action` on `item` or raise UserError saying why not. The state change, the audit entry and
    whatever `effects` queue (notifications, announcements) commit together or not at all."""
    transition = TRANSITIONS[action]
    if transition.actor is Actor.REVIEWER and not ctx.has(Role.REVIEWER):
        raise Forbidden(Role.REVIEWER.value)
    if transition.actor is Actor.REVIEWER and item.submitter_id == ctx.person.id:
        # The audit trail must show that someone else than its author decided.
        raise UserError(_("Vous ne pouvez pas relire votre propre soumission {id} : un autre relecteur s'en "
                          "chargera.").format(id=item.readable_id))
    if transition.actor is Actor.SUBMITTER and item.submitter_id != ctx.person.id:
        raise UserError(_("Seule la personne qui a soumis {id} peut faire cela.").format(id=item.readable_id))
    target = transition.target or accepted_status(item)
    before = item.status
    values: dict[str, Any] = dict(changes or {})
    if action == "claim":
        values.update(claimed_by_id=ctx.person.id, claimed_at=ctx.now)
    if target in DECIDED:
        values.update(decision=action, decision_note=note, decided_by_id=ctx.person.id, decided_at=ctx.now)
    if not allowed(item, action) or not await ctx.repo.items.transition(
        item, [str(s) for s in transition.sources], str(target), **values
    ):
        raise UserError(await why_not(ctx, item, action))
    await ctx.repo.audit.append(
        str(item.readable_id), action, actor_id=ctx.person.id, from_state=before, to_state=str(target),
        detail={"note": note} if note else None,
    )
    await indexing.follow(ctx.repo, item)
    if effects is not None:
        await effects(ctx, item)
    if transition.actor is Actor.REVIEWER:
        await _tell_other_review_rooms(ctx, item, action, note)
    return item


async def _tell_other_review_rooms(ctx: Context, item: Item, action: str, note: str | None) -> None:
    """A decision taken on one platform is said in the item's thread of the other platforms' review rooms (where
    Slack's card then shows the new state); the reviewer's own room has the command's answer."""
    rid = str(item.readable_id)
    text = str(_("{id} : {action} par {who}.")).format(id=rid, action=action_label(action),
                                                      who=ctx.person.display_name)
    lines = [text] + ([str(_("Note : {note}")).format(note=note)] if note else [])
    for platform in ctx.platforms:
        if platform != ctx.message.platform:
            key = f"{platform}:elsewhere:{rid}:{action}:{ctx.message.platform}:{ctx.message.event_id}"
            await notify.send(ctx, platform, notify.REVIEW, Reply.text(*lines, topic=rid), key)


async def tell_submitter(ctx: Context, item: Item, reply: Reply, key: str) -> None:
    """A decision reaches the person who submitted, in their DM, on the platform they used."""
    submitter = await ctx.repo.people.get(item.submitter_id)
    if submitter is not None:
        await notify.to_person(ctx, submitter.platform, submitter.platform_user_id, reply, key)


async def submitter_mention(ctx: Context, item: Item) -> Any:
    submitter = await ctx.repo.people.get(item.submitter_id)
    if submitter is None:
        return "?"
    return mention(submitter.platform_user_id, submitter.display_name)

