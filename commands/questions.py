"""Questions (seeds 000, 001): answered from the FAQ and the archive, or escalated to ONPE (Q-n) and answered
in the review room; `faq` lets reviewers curate the answers that come first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot import indexing, lookup, notify
from bot.context import Context
from bot.dialogs import Flow
from bot.errors import UserError
from bot.forms import Field, Form, Kind
from bot.i18n import _
from bot.messages import Prompt, Reply, RoomKind
from bot.registry import Arg, Role, Usage, Where
from bot.rich import Block, Bullets, Heading, Para, Span, bold, code, fill, mention
from commands import command, registry
from commands.search import hit_line
from storage.models import Question
from storage.repositories import Repos
from storage.search import Query, SearchIndex, analyze

SIGNATURE = _("— L'équipe de l'ONPE")
MAX_QUESTION = 2000
FAQ_COVERAGE = 0.5


async def find_question(ctx: Context, text: str) -> Question:
    sentence = _("« {v} » n'est pas un identifiant de question (ex. Q-3).")
    return await lookup.find(text, ("Q",), sentence, ctx.repo.questions.get)


async def escalate(ctx: Context, question: Question) -> None:
    """The question goes to ONPE: one message in the review room, the root of its thread."""
    question.status = "escalated"
    rid = str(question.readable_id)
    asker = await ctx.repo.people.get(question.asker_id)
    who: list[str | Span] = [mention(asker.platform_user_id, asker.display_name) if asker else "?"]
    if asker is not None and asker.department:
        who.append(f" ({asker.department})")
    card = Reply.card([
        Heading.of(str(_("Question {id}")).format(id=rid)),
        Para.of([str(_("Posée par ")), *who]),
        Para.of(question.text),
        Para.of(fill(str(_("Répondez dans ce fil, ou avec {cmd}.")), cmd=code(f"{ctx.prefix}repondre {rid} …"))),
    ], topic=rid, prompt=Prompt("question", rid))
    await ctx.repo.audit.append(rid, "escalate", actor_id=ctx.person.id, to_state="escalated")
    await notify.to_review(ctx, card, f"question:{rid}:{ctx.message.event_id}")


@command(
    "question",
    aliases=["ask"],
    family="questions",
    help=_("Pose une question : réponse de la FAQ et des documents, sinon transmise à l'ONPE."),
    args=[Arg("texte", _("votre question"), rest=True)],
    examples=["question Comment transmettre un rapport à l'ONPE ?"],
)
async def ask(ctx: Context, texte: str) -> list[Reply]:
    return await answer_question(ctx, texte)


async def answer_question(ctx: Context, text: str) -> list[Reply]:
    text = text.strip()
    if len(text) > MAX_QUESTION:
        raise UserError(_("Votre question fait {n} caractères ; {max} au plus.").format(n=len(text), max=MAX_QUESTION))
    question = await ctx.repo.questions.create(ctx.person.id, text)
    rid = str(question.readable_id)
    index = SearchIndex(ctx.repo.session)
    faq_hits = await index.search(Query(text, kinds=("faq",)), limit=2)
    related = await index.search(Query(text, kinds=("document", "practice")), limit=3)
    blocks: list[Block] = []
    asked = set(analyze(text))
    answered = False
    for hit in faq_hits:
        entry = await ctx.repo.faq.get(int(hit.key.removeprefix("F-")))
        if entry is not None and covers(asked, entry.question + "\n" + entry.answer):
            blocks += [Para.of(bold(entry.question)), Para.of(entry.answer)]
            answered = True
    if related:
        blocks += [Para.of(bold(str(_("Dans les documents et pratiques du réseau :")))),
                   Bullets.of([hit_line(h) for h in related])]
    if not answered:
        await escalate(ctx, question)
        blocks.insert(0, Para.of(str(_("Je n'ai pas de réponse toute prête : votre question {id} est transmise à "
                                       "l'ONPE, sa réponse arrivera ici en message direct.")).format(id=rid)))
        return [Reply.card(blocks)]
    question.status = "answered_auto"
    await ctx.repo.audit.append(rid, "ask", actor_id=ctx.person.id, to_state="answered_auto")
    replies = [Reply.card([Heading.of(str(_("Réponse à votre question {id}")).format(id=rid)), *blocks])]
    if ctx.message.room_kind is RoomKind.DIRECT and await ctx.dialog.active(ctx) is None:
        await ctx.dialog.start(ctx, "question_feedback", {"question": rid})
        replies.append(Reply.text(str(_("Cela répond-il à votre question ? Répondez « oui » ou « non » (dans ce "
                                        "cas je la transmets à l'ONPE)."))))
    return replies


def covers(asked: set[str], text: str) -> bool:
    """An entry answers a question when it shares most of its words: the search ranks, this decides, so that
    one common word ("équipe") does not pass for an answer."""
    if not asked:
        return False
    shared = asked & set(analyze(text))
    return len(shared) >= min(2, len(asked)) and len(shared) / len(asked) >= FAQ_COVERAGE


async def feedback(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    question = await find_question(ctx, context["question"])
    question.helpful = bool(answers["helpful"])
    if question.helpful:
        question.status = "closed"
        return Reply.success(str(_("Merci ! Bonne continuation.")))
    await escalate(ctx, question)
    return Reply.text(str(_("Entendu : votre question {id} est transmise à l'ONPE, sa réponse arrivera ici.")).format(
        id=str(question.readable_id)))


async def follow_up(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    question = await find_question(ctx, context["question"])
    rid = str(question.readable_id)
    question.status = "escalated"
    await ctx.repo.audit.append(rid, "follow_up", actor_id=ctx.person.id, to_state="escalated",
                                detail={"note": answers["text"]})
    sentence = str(_("Suite de {who} pour {id} : {text}")).format(
        who=ctx.person.display_name, id=rid, text=answers["text"])
    await notify.to_review(ctx, Reply.text(sentence, topic=rid), f"follow-up:{rid}:{ctx.message.event_id}")
    return Reply.success(str(_("Transmis à l'ONPE : {id} est rouverte.")).format(id=rid))


FEEDBACK_FORM = Form("question_feedback", _("Votre avis"), (
    Field("helpful", _("Cela répond-il à votre question ?"), Kind.YES_NO),
))
FOLLOW_UP_FORM = Form("question_follow_up", _("Donner suite"), (
    Field("text", _("Votre message pour l'ONPE"), max_length=MAX_QUESTION),
))
FAQ_FORM = Form("faq_entry", _("Nouvelle entrée de la FAQ"), (
    Field("question", _("Question"), max_length=300),
    Field("answer", _("Réponse"), max_length=3000),
))
registry.add_flow("question_feedback", Flow(FEEDBACK_FORM, feedback, confirm=False))
registry.add_flow("question_follow_up", Flow(FOLLOW_UP_FORM, follow_up, confirm=False))


async def give_answer(ctx: Context, question: Question, text: str) -> list[Reply]:
    ctx.require(Role.REVIEWER)
    rid = str(question.readable_id)
    if question.asker_id == ctx.person.id:
        raise UserError(_("Vous ne pouvez pas répondre à votre propre question {id}.").format(id=rid))
    question.answer = text
    question.status = "answered"
    question.answered_by_id = ctx.person.id
    question.answered_at = ctx.now
    await ctx.repo.audit.append(rid, "answer", actor_id=ctx.person.id, to_state="answered", detail={"note": text})
    asker = await ctx.repo.people.get(question.asker_id)
    if asker is not None:
        lines = [str(_("Réponse de l'ONPE à votre question {id} « {q} » :")).format(id=rid, q=question.text[:200]),
                 text, str(SIGNATURE)]
        if await ctx.repo.dialogs.get(asker.id) is None:
            await ctx.dialog.start_for(ctx, asker, "question_follow_up", {"question": rid})
            lines.append(str(_("Pour donner suite, répondez simplement ici.")))
        await notify.to_person(ctx, asker.platform, asker.platform_user_id, Reply.text(*lines),
                               f"answer:{rid}:{ctx.message.event_id}")
    return [Reply.success(str(_("Réponse transmise à la personne qui a posé {id}.")).format(id=rid), topic=rid)]


@command("repondre", aliases=["answer"], family="review", help=_("Répond à une question transmise à l'ONPE."),
         args=[Arg("id", _("ex. Q-3")), Arg("reponse", _("la réponse, transmise à la personne"), rest=True)],
         examples=["repondre Q-3 Le rapport peut être transmis par !soumettre."],
         role=Role.REVIEWER, where=Where.REVIEW_ROOM)
async def answer(ctx: Context, id: str, reponse: str) -> list[Reply]:
    return await give_answer(ctx, await find_question(ctx, id), reponse)


@registry.on_topic("Q")
async def answered_in_thread(ctx: Context, topic: str) -> list[Reply]:
    if not ctx.has(Role.REVIEWER):
        return []
    return await give_answer(ctx, await find_question(ctx, topic), ctx.message.text.strip())


async def save_faq(ctx: Context, answers: dict[str, Any], context: dict[str, Any]) -> Reply:
    source = context.get("question")
    question = await find_question(ctx, source) if source else None
    entry = await ctx.repo.faq.add(answers["question"], answers["answer"],
                                   source_question_id=question.id if question else None, created_by_id=ctx.person.id)
    await SearchIndex(ctx.repo.session).put(indexing.faq_entry(entry))
    return Reply.success(str(_("Entrée {key} ajoutée à la FAQ.")).format(key=indexing.faq_key(entry.id)))


registry.add_flow("faq_entry", Flow(FAQ_FORM, save_faq))


@command("faq", family="review", help=_("La FAQ : lister, ajouter (depuis une question Q-n), supprimer."),
         args=[Arg("action", _("lister, ajouter ou supprimer"), required=False),
               Arg("id", _("Q-n à ajouter, ou F-n à supprimer"), required=False)],
         usages=[Usage("lister", _("les entrées de la FAQ")),
                 Usage("ajouter [Q-n]", _("une entrée, reprise d'une question répondue et modifiable")),
                 Usage("supprimer F-n", _("retire une entrée"))],
         examples=["faq lister", "faq ajouter Q-3", "faq supprimer F-2"], role=Role.REVIEWER, where=Where.REVIEW_ROOM)
async def faq(ctx: Context, action: str | None, id: str | None) -> Reply | list[Reply]:
    verb = (action or "lister").lower()
    if verb in ("lister", "list"):
        entries = await ctx.repo.faq.entries()
        if not entries:
            return Reply.text(str(_("La FAQ est vide.")))
        return Reply.card([Heading.of(str(_("FAQ ({n} entrées)")).format(n=len(entries))),
                           Bullets.of([f"{indexing.faq_key(e.id)} — {e.question}" for e in entries])])
    if verb in ("supprimer", "remove", "delete"):
        if not id or not id.upper().startswith("F-") or not id[2:].isdigit():
            raise UserError(_("Indiquez l'entrée à supprimer, ex. « faq supprimer F-2 »."))
        if not await ctx.repo.faq.remove(int(id[2:])):
            raise UserError(_("Il n'y a pas d'entrée {key} dans la FAQ.").format(key=id.upper()))
        await SearchIndex(ctx.repo.session).remove(id.upper())
        return Reply.success(str(_("Entrée {key} retirée de la FAQ.")).format(key=id.upper()))
    if verb in ("ajouter", "add"):
        if await ctx.dialog.active(ctx) is not None:
            raise UserError(_("Terminez d'abord votre saisie en cours (ou « annuler »)."))
        if id is None:
            return await ctx.dialog.start(ctx, "faq_entry")
        question = await find_question(ctx, id)
        if not question.answer:
            raise UserError(_("{id} n'a pas encore de réponse : répondez-y d'abord (« repondre {id} … »).").format(
                id=str(question.readable_id)))
        return await ctx.dialog.start(ctx, "faq_entry", {"question": str(question.readable_id)},
                                      answers={"question": question.text, "answer": question.answer})
    raise UserError(_("Action inconnue : « {v} ». Choisissez lister, ajouter ou supprimer.").format(v=action))


async def remind_unanswered(repo: Repos, platforms: tuple[str, ...], now: datetime) -> int:
    """Escalated questions still without an answer, listed once a day in the review room."""
    waiting = await repo.questions.escalated_before(now - timedelta(hours=12))
    if not waiting:
        return 0
    reply = Reply.card([Heading.of(str(_("{n} question(s) attendent une réponse")).format(n=len(waiting))),
                        Bullets.of([f"{q.readable_id!s} — {q.text[:120]}" for q in waiting])])
    await notify.broadcast(repo, platforms, notify.REVIEW, reply, f"questions:{now.date().isoformat()}")
    return len(waiting)
