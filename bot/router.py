"""From a Message to Replies: parse, find the command, check who and where, run it, never let it crash the bot."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.activity import Activity
from bot.config import Config
from bot.context import Context
from bot.dialogs import Dialogs
from bot.errors import Forbidden, UserError
from bot.forms import Answer
from bot.i18n import _, language
from bot.messages import Message, Reaction, Reply, RoomKind
from bot.metrics import Metrics
from bot.parsing import CommandLine, QuoteError, parse_command
from bot.people_cache import PeopleCache
from bot.permissions import Denial, check, roles_of, sender_allowed
from bot.ratelimit import RateLimiter
from bot.registry import ArgumentError, Command, Registry, Role, Where
from bot.rich import Span, code, fill
from storage.db import Database
from storage.models import Person
from storage.repositories import Repos
from storage.repositories.dialogs import Dialog

log = logging.getLogger(__name__)

QUESTION_MIN_WORDS = 4


def help_line(command: Command, prefix: str) -> list[Span]:
    return [code(command.usage(prefix)), Span(" — " + str(command.help))]


class Router:
    def __init__(
        self, config: Config, db: Database, registry: Registry, metrics: Metrics, limiter: RateLimiter,
        activity: Activity,
    ) -> None:
        self.config = config
        self.activity = activity
        self.db = db
        self.registry = registry
        self.metrics = metrics
        self.limiter = limiter
        self.people = PeopleCache()
        self.dialogs = Dialogs(registry.flows)
        # The platforms this process serves, where notifications go (filled by the runtime or the console).
        self.platforms: list[str] = []

    @property
    def prefix(self) -> str:
        return self.config.command_prefix

    def _command_line(self, message: Message) -> CommandLine | None:
        line = parse_command(message.text, self.prefix)
        if line is None and message.is_direct:
            # In a DM people often forget the prefix: "aide" works there too.
            line = parse_command(self.prefix + message.text.strip(), self.prefix)
            if line is not None and self.registry.find(line.name) is None:
                return None
        return line

    async def handle(self, message: Message) -> list[Reply]:
        """Every reply to `message`, in the sender's language. Never raises for a command's failure."""
        with self.activity.busy():
            return await self._handle(message)

    async def _handle(self, message: Message) -> list[Reply]:
        self.metrics.messages.labels(message.platform).inc()
        if "\x00" in message.text:
            # No database keeps a NUL in text (PostgreSQL refuses it): it can only be noise.
            message = dataclasses.replace(message, text=message.text.replace("\x00", ""))
        if not sender_allowed(message, self.config):
            log.info("refused a message from %s (server not allowed)", message.sender)
            return []
        if message.edited and not message.is_direct and message.room_kind is not RoomKind.REVIEW:
            return []  # an edit in a shared room: the earlier message was read, or was chatter
        try:
            line = self._command_line(message)
        except QuoteError as exc:
            line = None
            quote_error: QuoteError | None = exc
        else:
            quote_error = None
        # Chatter in a shared room is none of the bot's business (but in the review room it may be the reason
        # a reviewer was asked for, see below).
        if line is None and quote_error is None and not message.is_direct and message.room_kind is not RoomKind.REVIEW:
            return []
        user_key = f"{message.platform}:{message.sender}"
        async with self.db.session() as session:
            repo = Repos(session)
            person = await self._person(repo, message, user_key)
            with language(person.language or self.config.language):
                if message.edited or (message.unreadable and not message.attachments):
                    return self._keep(user_key, person, await self._unusable(message, person, repo), True)
                if self._may_answer_a_dialog(message):
                    state = await repo.dialogs.get(person.id)
                    if (
                        state is not None
                        and state.form in self.dialogs.flows
                        and (message.is_direct or state.origin_room == message.room_id)
                    ):
                        # A dialog keeps the ids of its last answers: a redelivered one is recognised there,
                        # which spares every answer a write of its own to the processed events.
                        if message.dedupe and message.event_id in state.data.get("events", ()):
                            return []
                        replies, clean = await self._dialog_input(message, person, repo, state)
                        # After a failure the transaction was rolled back (and the event marked by `_undo`).
                        if message.dedupe and clean and await repo.dialogs.get(state.person_id) is None:
                            await repo.processed.mark(message.platform, message.event_id)  # its last answer
                        return self._keep(user_key, person, replies, clean)
                if message.dedupe and not await repo.processed.mark(message.platform, message.event_id):
                    return []  # already answered (a repeated sync, a redelivery)
                # Answers to a dialog are paced by its questions; commands and the rest are limited.
                wait = self.limiter.take(user_key)
                if wait:
                    self.metrics.commands.labels("-", "rate_limited").inc()
                    return [self.rate_limited(wait)] if self.limiter.should_warn(user_key) else []
                if quote_error is not None:
                    opener = quote_error.opener
                    return [Reply.error(_("Un guillemet {q} est ouvert mais jamais fermé.").format(q=opener))]
                if line is None and message.topic and message.room_kind is RoomKind.REVIEW:
                    replies, clean = await self._topic_reply(message, person, repo)
                    return self._keep(user_key, person, replies, clean)
                if line is None and self._looks_like_a_question(message):
                    line = parse_command(f"{self.prefix}question {message.text.strip()}", self.prefix)
                if line is None:
                    return [self._not_a_command(message)] if message.is_direct else []
                replies, clean = await self._run(line, message, person, repo)
        return self._keep(user_key, person, replies, clean)

    def _keep(self, user_key: str, person: Person, replies: list[Reply], clean: bool) -> list[Reply]:
        # Only a committed person is worth keeping: a rolled-back one has lost its loaded state.
        if clean:
            self.people.put(user_key, person)
        else:
            self.people.drop(user_key)
        return replies

    async def _unusable(self, message: Message, person: Person, repo: Repos) -> list[Reply]:
        """An edited message, or files the platform would not hand over: said once, where the person talks with
        the bot (a DM, or the room of their dialog); nothing else changes, the dialog in progress waits."""
        if message.dedupe and not await repo.processed.mark(message.platform, message.event_id):
            return []
        state = await repo.dialogs.get(person.id)
        in_dialog = (
            state is not None
            and state.form in self.dialogs.flows
            and (message.is_direct or state.origin_room == message.room_id)
        )
        if not (message.is_direct or in_dialog):
            return []
        if message.edited:
            sentence = str(_("Vous avez modifié un message : je ne lis que les nouveaux messages. Envoyez la version "
                             "corrigée dans un nouveau message."))
        else:
            sentence = str(_("Je n'ai pas pu récupérer le fichier « {name} » : envoyez-le de nouveau, s'il vous "
                             "plaît.")).format(name=message.unreadable[0])
        if in_dialog:
            sentence += " " + str(_("Votre saisie en cours est conservée."))
        return [Reply.error(sentence)]

    async def _topic_reply(self, message: Message, person: Person, repo: Repos) -> tuple[list[Reply], bool]:
        """Written in the review room's thread about a subject (e.g. an answer to Q-3 in its thread)."""
        assert message.topic is not None
        handler = self.registry.topics.get(message.topic.split("-", 1)[0])
        if handler is None:
            return [], True
        ctx = self.context(message, person, repo)
        return await self._invoke(f"topic:{message.topic}", ctx, lambda: handler(ctx, message.topic))

    def _looks_like_a_question(self, message: Message) -> bool:
        """In a DM, a sentence that is no command is taken as a question (a greeting is not)."""
        text = message.text.strip()
        asked = text.endswith("?") or len(text.split()) >= QUESTION_MIN_WORDS
        return message.is_direct and not message.attachments and asked and self.registry.find("question") is not None

    def _may_answer_a_dialog(self, message: Message) -> bool:
        """What is not an explicit command may answer the dialog in progress: in a DM, or in the review room
        where a reviewer was asked a reason (after ❌ or ❓)."""
        if message.text.strip().startswith(self.prefix):
            return False
        return message.is_direct or message.room_kind is RoomKind.REVIEW

    async def _dialog_input(
        self, message: Message, person: Person, repo: Repos, state: Dialog
    ) -> tuple[list[Reply], bool]:
        ctx = self.context(message, person, repo)
        expired = await self.dialogs.expire_if_idle(ctx, state)
        if expired is not None:
            return [expired], True
        answer = Answer(message.text, message.attachments)
        return await self._invoke(f"dialog:{state.form}", ctx, lambda: self.dialogs.handle(ctx, state, answer))

    async def _person(self, repo: Repos, message: Message, key: str) -> Person:
        cached = self.people.get(key)
        if cached is not None and cached.display_name == message.sender_name:
            return cached  # a copy from an earlier message; the people repository writes changes by id
        return await repo.people.get_or_create(message.platform, message.sender, message.sender_name)

    async def _run(self, line: CommandLine, message: Message, person: Person, repo: Repos) -> tuple[list[Reply], bool]:
        """The command's replies, and whether its transaction is intact (False after a rollback)."""
        command = self.registry.find(line.name)
        if command is None:
            self.metrics.commands.labels("-", "unknown").inc()
            return [self._unknown(line.name)], True
        roles = roles_of(message.sender, person.roles or (), self.config)
        denial = check(command, roles, message.room_kind)
        if denial is not None:
            self.metrics.commands.labels(command.name, "denied").inc()
            return [self._denied(command, denial)], True
        try:
            arguments = command.bind(line.args, line.text_from)
        except ArgumentError as exc:
            self.metrics.commands.labels(command.name, "usage").inc()
            return [self._usage(command, exc)], True
        ctx = self.context(message, person, repo, line.args)
        return await self._invoke(
            command.name, ctx, lambda: command.handler(ctx, **arguments), command=command
        )

    async def handle_reaction(self, reaction: Reaction) -> list[Reply]:
        """A reaction to one of the bot's prompts, handed to the handler of that kind of prompt."""
        with self.activity.busy():
            return await self._handle_reaction(reaction)

    async def _handle_reaction(self, reaction: Reaction) -> list[Reply]:
        handler = self.registry.reactions.get(reaction.prompt.kind)
        message = Message(
            platform=reaction.platform,
            event_id=reaction.event_id,
            room_id=reaction.room_id,
            room_kind=reaction.room_kind,
            sender=reaction.sender,
            sender_name=reaction.sender_name,
            text=reaction.key,
        )
        if handler is None or not sender_allowed(message, self.config):
            return []
        user_key = f"{message.platform}:{message.sender}"
        async with self.db.session() as session:
            repo = Repos(session)
            if not await repo.processed.mark(message.platform, message.event_id):
                return []
            person = await self._person(repo, message, user_key)
            with language(person.language or self.config.language):
                ctx = self.context(message, person, repo)
                name = f"reaction:{reaction.prompt.kind}"
                replies, clean = await self._invoke(name, ctx, lambda: handler(ctx, reaction))
        if not clean:
            self.people.drop(user_key)
        return replies

    def context(self, message: Message, person: Person, repo: Repos, words: tuple[str, ...] = ()) -> Context:
        """What a handler gets: the message, its person and their roles there, the repositories, the clock."""
        return Context(
            message=message,
            person=person,
            repo=repo,
            config=self.config,
            registry=self.registry,
            roles=roles_of(message.sender, person.roles or (), self.config),
            language=person.language or self.config.language,
            now=self.db.clock.now(),
            words=words,
            dialogs=self.dialogs,
            platforms=tuple(self.platforms),
        )

    async def _invoke(
        self,
        name: str,
        ctx: Context,
        call: Callable[[], Awaitable[Reply | Sequence[Reply] | None]],
        command: Command | None = None,
    ) -> tuple[list[Reply], bool]:
        """Run a handler in isolation: its failure becomes one sentence, is logged, and its writes are undone."""
        started = time.perf_counter()
        hint = [help_line(command, self.prefix)] if command else []
        try:
            result = await call()
        except Forbidden as exc:
            outcome, replies = "denied", [self._forbidden(command, Role(exc.role))]
        except UserError as exc:
            outcome, replies = "usage", [Reply.error(exc.message, *hint)]
        except Exception:
            reference = secrets.token_hex(3).upper()
            log.exception("%s from %s failed [ref %s]", name, ctx.message.sender, reference)
            outcome, replies = "error", [self._internal_error(reference)]
        else:
            self.metrics.commands.labels(name, "ok").inc()
            return _as_list(result), True
        finally:
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)
        await self._undo(ctx.repo, ctx.message)
        self.metrics.commands.labels(name, outcome).inc()
        return replies, False

    async def _undo(self, repo: Repos, message: Message) -> None:
        """Drop what a failed command half-wrote, but keep the event marked so it is not replayed."""
        await repo.session.rollback()
        if message.dedupe:
            await repo.processed.mark(message.platform, message.event_id)

    def paced(self, platform: str, sender: str) -> Reply | None:
        """For what an integration starts outside `handle` (a Slack modal): None when the person may go on, the
        sentence saying how long to wait otherwise. It counts as one command."""
        wait = self.limiter.take(f"{platform}:{sender}")
        return self.rate_limited(wait) if wait else None

    def rate_limited(self, wait: float) -> Reply:
        return Reply.error(
            _("Vous envoyez beaucoup de commandes à la suite : patientez {s} secondes, puis réessayez.").format(
                s=max(1, round(wait))
            )
        )

    def _not_a_command(self, message: Message) -> Reply:
        if message.attachments:
            return Reply.text(fill(
                str(_("J'ai bien reçu « {name} », mais aucune saisie n'est en cours. Pour déposer un document, "
                      "tapez {cmd}.")),
                name=message.attachments[0].name, cmd=code(f"{self.prefix}soumettre"),
            ))
        sentence = _(
            "Je n'ai pas compris ce message. Les commandes commencent par « {p} » : tapez {cmd} pour la liste."
        )
        return Reply.text(fill(str(sentence), p=self.prefix, cmd=code(f"{self.prefix}aide")))

    def _unknown(self, word: str) -> Reply:
        first = _("Je ne connais pas la commande « {name} ».").format(name=word)
        nearest = self.registry.suggest(word)
        if not nearest:
            hint = fill(str(_("Tapez {cmd} pour la liste des commandes.")), cmd=code(f"{self.prefix}aide"))
            return Reply.error(first, hint)
        command = nearest[0]
        return Reply.error(
            first,
            fill(str(_("Vouliez-vous dire {cmd} ?")), cmd=code(f"{self.prefix}{command.name}")),
            help_line(command, self.prefix),
        )

    def _forbidden(self, command: Command | None, role: Role) -> Reply:
        if command is None:
            sentence = (
                _("Cette action est réservée aux administrateurs du bot.")
                if role is Role.ADMIN
                else _("Cette action est réservée aux relecteurs de l'ONPE.")
            )
            return Reply.error(str(sentence))
        sentence = (
            _("Cette action de {cmd} est réservée aux administrateurs du bot.")
            if role is Role.ADMIN
            else _("Cette action de {cmd} est réservée aux relecteurs de l'ONPE.")
        )
        return Reply.error(sentence.format(cmd=f"{self.prefix}{command.name}"), help_line(command, self.prefix))

    def _denied(self, command: Command, denial: Denial) -> Reply:
        shown = f"{self.prefix}{command.name}"
        if denial is Denial.ROLE:
            sentence = (
                _("La commande {cmd} est réservée aux administrateurs du bot.")
                if command.role is Role.ADMIN
                else _("La commande {cmd} est réservée aux relecteurs de l'ONPE.")
            )
        elif command.where is Where.REVIEW_ROOM:
            sentence = _("La commande {cmd} ne s'utilise que dans le salon de revue de l'ONPE.")
        else:
            sentence = _("La commande {cmd} ne s'utilise qu'en message direct avec le bot.")
        return Reply.error(sentence.format(cmd=shown), help_line(command, self.prefix))

    def _usage(self, command: Command, error: ArgumentError) -> Reply:
        shown = f"{self.prefix}{command.name}"
        if error.missing is not None:
            sentence = _("Il manque « {arg} » ({what}) pour {cmd}.").format(
                arg=error.missing.name, what=str(error.missing.help), cmd=shown
            )
        else:
            sentence = _(
                "Trop d'arguments pour {cmd} : « {extra} ». Mettez un texte de plusieurs mots entre guillemets."
            ).format(cmd=shown, extra=" ".join(error.extra))
        return Reply.error(sentence, [Span(str(_("Utilisation : "))), *help_line(command, self.prefix)])

    def _internal_error(self, reference: str) -> Reply:
        return Reply.error(
            _(
                "Désolé, une erreur interne est survenue (référence {ref}). Réessayez dans un instant ; "
                "si cela se reproduit, transmettez cette référence à l'équipe du bot."
            ).format(ref=reference)
        )


def _as_list(result: Reply | Sequence[Reply] | None) -> list[Reply]:
    if result is None:
        return []
    if isinstance(result, Reply):
        return [result]
    return list(result)

