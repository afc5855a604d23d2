"""The dialog engine: any form as a text dialog, one question at a time, kept in the database at every step.

A person answers by number or by text; `-` skips an optional field, `retour` goes back, `annuler` stops;
at the end a numbered summary where `oui` submits and `modifier N` edits one field. A wrong answer gets the
precise reason and the same question again: nothing typed is silently dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.forms import SKIP, YES, Answer, Form, FormContext, Invalid, Kind, display, parse
from bot.i18n import LazyText, _
from bot.messages import Reply
from bot.rich import Block, Bullets, Fields, Heading, Para, Span, bold, code, fill
from storage.files import FileStore
from storage.models import Person
from storage.normalize import fold
from storage.repositories.dialogs import Dialog

if TYPE_CHECKING:
    from bot.config import Config
    from bot.context import Context

EVENTS_KEPT = 20  # ids of the last answers, to recognise one delivered twice
CANCEL_WORDS = {"annuler", "cancel", "stop", "abandonner"}
BACK_WORDS = {"retour", "back", "precedent"}
EDIT_WORDS = {"modifier", "edit", "changer"}

Submit = Callable[["Context", dict[str, Any], dict[str, Any]], Awaitable[Reply | Sequence[Reply]]]


@dataclass(frozen=True)
class Flow:
    """A form and what happens once it is complete."""

    form: Form
    submit: Submit
    confirm: bool = True  # show the summary and wait for "oui"; off for a one-question dialog
    done_label: LazyText | None = None


def form_context(config: Config, now: datetime) -> FormContext:
    """What the fields' parse functions need: the file store, the size limit, today's date where people are."""
    return FormContext(
        files=FileStore(config.files.dir),
        max_file_bytes=config.files.max_size_mb * 1024 * 1024,
        today=now.astimezone(config.tz).date(),
        tz=config.tz,
    )


def _steps(form: Form) -> int:
    return len(form.fields)


def question(flow: Flow, step: int, answers: dict[str, Any], error: str | None = None) -> Reply:
    form_field = flow.form.fields[step]
    blocks: list[Block] = []
    if error:
        blocks.append(Para.of(error))
    title = str(_("Étape {k}/{n} — {label}")).format(k=step + 1, n=_steps(flow.form), label=form_field.label)
    blocks.append(Para.of(bold(title)))
    if form_field.help:
        blocks.append(Para.of(str(form_field.help)))
    if form_field.kind is Kind.CHOICE and form_field.choices is not None:
        blocks.append(Bullets.of([f"{i}. {t.label}" for i, t in enumerate(form_field.choices, start=1)]))
        blocks.append(Para.of(str(_("Répondez par le numéro ou le nom."))))
    if form_field.max_length and form_field.kind is Kind.TEXT:
        blocks.append(Para.of(str(_("{max} caractères au plus.")).format(max=form_field.max_length)))
    controls = [str(_("« retour » pour revenir en arrière")), str(_("« annuler » pour abandonner"))]
    if not form_field.required:
        controls.insert(0, str(_("« - » pour passer (facultatif)")))
    if form_field.name in answers and answers[form_field.name] is not None:
        controls.insert(0, str(_("réponse actuelle : {v}")).format(v=display(form_field, answers[form_field.name])))
    blocks.append(Para.of(Span("(" + " ; ".join(controls) + ")", "italic")))
    return Reply.card(blocks)


def summary(flow: Flow, answers: dict[str, Any]) -> Reply:
    rows = [
        (f"{i}. {f.label}", display(f, answers.get(f.name)))
        for i, f in enumerate(flow.form.fields, start=1)
        if f.kind is not Kind.CONSENT
    ]
    return Reply.card(
        [
            Heading.of(str(_("Récapitulatif — {title}")).format(title=flow.form.title)),
            Fields.of(rows),
            Para.of(
                fill(
                    str(_("Répondez {yes} pour envoyer, {edit} pour changer un champ, {cancel} pour abandonner.")),
                    yes=code("oui"),
                    edit=code("modifier N"),
                    cancel=code("annuler"),
                )
            ),
        ]
    )


class Dialogs:
    """Starts and advances dialogs, for the flows declared on the registry."""

    def __init__(self, flows: dict[str, Flow]) -> None:
        self.flows = flows

    async def start(
        self, ctx: Context, name: str, context: dict[str, Any] | None = None, answers: dict[str, Any] | None = None
    ) -> Reply:
        """Start dialog `name` for the person speaking; returns its first question (or its summary)."""
        return await self.start_for(ctx, ctx.person, name, context, room=ctx.message.room_id, answers=answers)

    async def start_for(
        self, ctx: Context, person: Person, name: str, context: dict[str, Any] | None = None, room: str = "dm",
        answers: dict[str, Any] | None = None,
    ) -> Reply:
        """Start dialog `name` for `person` (e.g. the submitter asked for more by a reviewer). With `answers`,
        it opens on the summary, to be checked or edited before it is sent."""
        flow = self.flows[name]
        state = Dialog(
            person_id=person.id,
            form=name,
            step=0,
            data={"answers": dict(answers or {}), "mode": "summary" if answers else "ask", "context": context or {}},
            origin_room=room,
            platform=person.platform,
            started_at=ctx.now,
            expires_at=ctx.now + timedelta(hours=ctx.config.dialogs.idle_hours),
        )
        await ctx.repo.dialogs.save(state)
        if answers:
            return summary(flow, state.data["answers"])
        first = question(flow, 0, {})
        if flow.form.intro is None:
            return first
        return Reply(Reply.card([Heading.of(str(flow.form.title)), Para.of(str(flow.form.intro))]).body + first.body)

    async def active(self, ctx: Context) -> Dialog | None:
        state = await ctx.repo.dialogs.get(ctx.person.id)
        if state is None or state.form not in self.flows:
            return None
        return state

    async def expire_if_idle(self, ctx: Context, state: Dialog) -> Reply | None:
        if state.expires_at > ctx.now:
            return None
        await ctx.repo.dialogs.delete(ctx.person.id)
        return expired_notice(self.flows[state.form], state, ctx.config.tz)

    async def cancel(self, ctx: Context) -> Reply:
        state = await self.active(ctx)
        if state is None:
            return Reply.text(str(_("Aucun dialogue en cours : rien à annuler.")))
        await ctx.repo.dialogs.delete(ctx.person.id)
        return Reply.text(
            str(_("« {title} » abandonné : rien n'a été envoyé.")).format(title=self.flows[state.form].form.title)
        )

    async def back(self, ctx: Context) -> Reply:
        state = await self.active(ctx)
        if state is None:
            return Reply.text(str(_("Aucun dialogue en cours.")))
        flow = self.flows[state.form]
        data = dict(state.data)
        step = _steps(flow.form) - 1 if data.get("mode") == "summary" else max(0, state.step - 1)
        data["mode"] = "ask"
        await self._save(ctx, state, step, data)
        return question(flow, step, data["answers"])

    async def handle(self, ctx: Context, state: Dialog, answer: Answer) -> list[Reply]:
        """Advance `state` with what the person sent. The dialog keeps the answer's event id whatever came of it
        (a refused skip, a word not understood at the summary...), so that a redelivery is answered once."""
        replies = await self._handle(ctx, state, answer)
        if ctx.message.dedupe:
            current = await ctx.repo.dialogs.get(ctx.person.id)
            if current is not None and ctx.message.event_id not in current.data.get("events", ()):
                await self._save(ctx, current, current.step, dict(current.data))
        return replies

    async def _handle(self, ctx: Context, state: Dialog, answer: Answer) -> list[Reply]:
        flow = self.flows[state.form]
        word = fold(answer.text)
        if not answer.attachments and word in CANCEL_WORDS:
            return [await self.cancel(ctx)]
        if not answer.attachments and word in BACK_WORDS:
            return [await self.back(ctx)]
        data = {**state.data, "answers": dict(state.data.get("answers", {}))}
        if data.get("mode") == "summary":
            return await self._at_summary(ctx, state, flow, data, answer)
        return await self._answer(ctx, state, flow, data, answer)

    async def _answer(
        self, ctx: Context, state: Dialog, flow: Flow, data: dict[str, Any], answer: Answer
    ) -> list[Reply]:
        step = state.step
        form_field = flow.form.fields[step]
        skipped = answer.text.strip() == SKIP and not answer.attachments
        if skipped and form_field.required:
            return [question(flow, step, data["answers"], str(_("Ce champ est obligatoire : il ne peut pas "
                                                                "être passé.")))]
        try:
            value = None if skipped else parse(form_field, answer, form_context(ctx.config, ctx.now))
            if flow.form.check is not None:
                flow.form.check({**data["answers"], form_field.name: value}, form_context(ctx.config, ctx.now))
        except Invalid as exc:
            await self._save(ctx, state, step, data)  # the idle clock restarts: the person is there
            return [question(flow, step, data["answers"], exc.message)]
        data["answers"][form_field.name] = value
        editing = data.get("mode") == "edit"
        next_step = step + 1
        if not editing and next_step < _steps(flow.form):
            data["mode"] = "ask"
            await self._save(ctx, state, next_step, data)
            return [question(flow, next_step, data["answers"])]
        if not flow.confirm:
            return await self._submit(ctx, flow, data)
        data["mode"] = "summary"
        await self._save(ctx, state, step, data)
        return [summary(flow, data["answers"])]

    async def _at_summary(
        self, ctx: Context, state: Dialog, flow: Flow, data: dict[str, Any], answer: Answer
    ) -> list[Reply]:
        words = fold(answer.text).split()
        if fold(answer.text) in YES:
            return await self._submit(ctx, flow, data)
        if words and words[0] in EDIT_WORDS:
            target = self._field_index(flow.form, " ".join(words[1:]))
            if target is None:
                sentence = _("Indiquez le numéro du champ à modifier, de 1 à {n} (ex. « modifier 2 »).")
                return [Reply.error(sentence.format(n=_steps(flow.form))), summary(flow, data["answers"])]
            data["mode"] = "edit"
            await self._save(ctx, state, target, data)
            return [question(flow, target, data["answers"])]
        return [Reply.error(str(_("Je n'ai pas compris « {v} ».")).format(v=answer.text.strip()[:80]),
                            fill(str(_("Répondez {yes}, {edit} ou {cancel}.")), yes=code("oui"),
                                 edit=code("modifier N"), cancel=code("annuler")))]

    @staticmethod
    def _field_index(form: Form, text: str) -> int | None:
        if text.isdigit() and 1 <= int(text) <= len(form.fields):
            return int(text) - 1
        wanted = fold(text)
        if not wanted:
            return None
        for i, f in enumerate(form.fields):
            if fold(f.name) == wanted or fold(str(f.label)).startswith(wanted):
                return i
        return None

    async def _submit(self, ctx: Context, flow: Flow, data: dict[str, Any]) -> list[Reply]:
        try:
            result = await flow.submit(ctx, data["answers"], data.get("context", {}))
        except Invalid as exc:
            # Refused as a whole (e.g. a file already submitted): the answers stay, at the summary.
            return [Reply.error(exc.message), summary(flow, data["answers"])]
        await ctx.repo.dialogs.delete(ctx.person.id)
        return [result] if isinstance(result, Reply) else list(result)

    async def _save(self, ctx: Context, state: Dialog, step: int, data: dict[str, Any]) -> None:
        if ctx.message.dedupe:
            data["events"] = [*data.get("events", []), ctx.message.event_id][-EVENTS_KEPT:]
        state.step = step
        state.data = data
        state.expires_at = ctx.now + timedelta(hours=ctx.config.dialogs.idle_hours)
        await ctx.repo.dialogs.save(state)


def in_progress(flows: dict[str, Flow], state: Dialog | None) -> str | None:
    """Why no other dialog can start: one is in progress (a person has one dialog at a time); None otherwise."""
    if state is None or state.form not in flows:
        return None
    return str(_("Une saisie est déjà en cours (« {title} », étape {k}). Terminez-la ou tapez « annuler » avant "
                 "d'en commencer une autre.")).format(title=flows[state.form].form.title, k=state.step + 1)


def expired_notice(flow: Flow, state: Dialog, tz: ZoneInfo) -> Reply:
    return Reply.text(
        str(_("Votre saisie « {title} », commencée le {day}, a expiré faute de réponse. Rien n'a été envoyé : "
              "recommencez quand vous voulez.")).format(
            title=flow.form.title, day=state.started_at.astimezone(tz).strftime("%d/%m/%Y")
        )
    )

