"""Commands declared once (names, aliases, arguments, help, who and where): the router and the help read it."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.i18n import LazyText
from storage.normalize import fold

if TYPE_CHECKING:
    from bot.dialogs import Flow
    from bot.messages import Reply

Handler = Callable[..., Awaitable["Reply | Sequence[Reply] | None"]]


class Role(enum.Enum):
    MEMBER = "member"  # any allowed person: référents ODPE and everyone else of the network
    REVIEWER = "reviewer"  # ONPE staff and the selection committee
    ADMIN = "admin"


class Where(enum.Enum):
    ANYWHERE = "anywhere"
    REVIEW_ROOM = "review_room"
    DIRECT = "direct"


@dataclass(frozen=True)
class Arg:
    name: str
    help: LazyText
    required: bool = True
    rest: bool = False  # takes the rest of the line as typed (free text)

    def usage(self) -> str:
        shown = f"{self.name}…" if self.rest else self.name
        return f"<{shown}>" if self.required else f"[{shown}]"


@dataclass(frozen=True)
class Usage:
    """A further form of a command shown in its detailed help, e.g. `profil langue fr|en`."""

    args: str
    help: LazyText


@dataclass(frozen=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    help: LazyText
    handler: Handler
    family: str
    args: tuple[Arg, ...] = ()
    role: Role = Role.MEMBER
    where: Where = Where.ANYWHERE
    usages: tuple[Usage, ...] = ()
    examples: tuple[str, ...] = ()

    def usage(self, prefix: str) -> str:
        return " ".join([f"{prefix}{self.name}", *(a.usage() for a in self.args)])

    def bind(self, words: Sequence[str], text_from: Callable[[int], str]) -> dict[str, Any]:
        """Map the typed words to the handler's arguments; raises ArgumentError."""
        values: dict[str, Any] = {}
        for index, arg in enumerate(self.args):
            if arg.rest:
                text = text_from(index)
                if arg.required and not text:
                    raise ArgumentError(missing=arg)
                values[arg.name] = text or None
                return values
            if index < len(words):
                values[arg.name] = words[index]
            elif arg.required:
                raise ArgumentError(missing=arg)
            else:
                values[arg.name] = None
        if len(words) > len(self.args):
            raise ArgumentError(extra=tuple(words[len(self.args) :]))
        return values


class ArgumentError(Exception):
    def __init__(self, missing: Arg | None = None, extra: tuple[str, ...] = ()) -> None:
        super().__init__(missing.name if missing else " ".join(extra))
        self.missing = missing
        self.extra = extra


@dataclass
class Registry:
    commands: dict[str, Command] = field(default_factory=dict)
    # Handlers of reactions to the bot's prompts, by prompt kind (e.g. "review" for ✅ ❌ ❓ ✋).
    reactions: dict[str, Handler] = field(default_factory=dict)
    # Guided dialogs by name (bot.dialogs.Flow), declared by the command families that start them.
    flows: dict[str, Flow] = field(default_factory=dict)
    # Handlers of what is written (not a command) in the review room's thread about a subject, by the
    # subject's prefix (e.g. "Q": an answer to a question).
    topics: dict[str, Handler] = field(default_factory=dict)
    # The order in which families are listed (help, README); commands of other families come last.
    family_order: tuple[str, ...] = ()
    module_order: tuple[str, ...] = ()  # full module names
    _names: dict[str, Command] = field(default_factory=dict)

    def add_flow(self, name: str, flow: Flow) -> None:
        if name in self.flows:
            raise ValueError(f"dialog '{name}' is declared twice")
        self.flows[name] = flow

    def on_topic(self, prefix: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.topics[prefix] = handler
            return handler

        return register

    def on_reaction(self, kind: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if kind in self.reactions:
                raise ValueError(f"reactions to '{kind}' prompts have a handler already")
            self.reactions[kind] = handler
            return handler

        return register

    def add(self, cmd: Command) -> Command:
        for name in (cmd.name, *cmd.aliases):
            key = fold(name)
            if key in self._names:
                raise ValueError(f"command name '{name}' is declared twice")
            self._names[key] = cmd
        self.commands[cmd.name] = cmd
        return cmd

    def command(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        help: LazyText,
        family: str,
        args: Sequence[Arg] = (),
        role: Role = Role.MEMBER,
        where: Where = Where.ANYWHERE,
        usages: Sequence[Usage] = (),
        examples: Sequence[str] = (),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(
                Command(
                    name=name,
                    aliases=tuple(aliases),
                    help=help,
                    handler=handler,
                    family=family,
                    args=tuple(args),
                    role=role,
                    where=where,
                    usages=tuple(usages),
                    examples=tuple(examples),
                )
            )
            return handler

        return register

    def find(self, word: str) -> Command | None:
        return self._names.get(fold(word))

    def suggest(self, word: str, limit: int = 1) -> list[Command]:
        """The commands whose names are closest to a mistyped `word`."""
        matches = difflib.get_close_matches(fold(word), list(self._names), n=limit * 3, cutoff=0.6)
        found: list[Command] = []
        for match in matches:
            cmd = self._names[match]
            if cmd not in found:
                found.append(cmd)
        return found[:limit]

    def __iter__(self) -> Iterator[Command]:
        """Commands by family (`family_order`), then by module (`module_order`), then as declared: modules may
        be imported in any order, the listing stays the same."""
        families = {family: i for i, family in enumerate(self.family_order)}
        modules = {module: i for i, module in enumerate(self.module_order)}
        return iter(sorted(
            self.commands.values(),
            key=lambda c: (families.get(c.family, len(families)), modules.get(c.handler.__module__, len(modules))),
        ))
