"""The bot in a terminal: speak as anyone, in any room, on the embedded default — a demo and a test tool."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot import notify
from bot.app import App
from bot.i18n import _, language
from bot.messages import Attachment, EventId, Message, Platform, Reply, RoomId, RoomKind, Tone, UserId
from bot.ratelimit import RateLimiter

PLATFORM = Platform("console")
ROOMS: dict[str, RoomKind] = {"dm": RoomKind.DIRECT, "revue": RoomKind.REVIEW, "annonces": RoomKind.ANNOUNCEMENT}
NAME = re.compile(r"^[\w.\-]{1,40}$")

BOLD, RED, GREEN, DIM, RESET = "\033[1m", "\033[31m", "\033[32m", "\033[2m", "\033[0m"


def user_id(name: str) -> UserId:
    return UserId(f"@{name}:console")


@dataclass
class ConsoleState:
    user: str
    room: str = "dm"

    @property
    def room_kind(self) -> RoomKind:
        return ROOMS.get(self.room, RoomKind.GROUP)

    @property
    def room_id(self) -> RoomId:
        # Each person has their own DM with the bot; the other rooms are shared.
        return RoomId(f"dm:{self.user}" if self.room == "dm" else self.room)


class Console:
    def __init__(self, app: App, out: TextIO = sys.stdout, color: bool = False) -> None:
        self.app = app
        self.out = out
        self.color = color
        self.state = ConsoleState(user=app.config.console.user)
        # Everything the core sends elsewhere (review room, announcements, someone's DM) is shown here too.
        app.outbox.register(PLATFORM, self.deliver)
        app.router.platforms[:] = [PLATFORM]
        # One person at a keyboard (or a script piping a demo): nobody to protect the bot from.
        app.router.limiter = RateLimiter(per_minute=0, burst=1)

    async def deliver(self, message_id: int, target: str, payload: dict[str, object]) -> None:
        reply = Reply.from_json(payload["reply"])  # type: ignore[arg-type]
        with language(self.app.config.language):
            if target == notify.REVIEW:
                where = str(_("salon revue"))
            elif target == notify.ANNOUNCE:
                where = str(_("salon annonces"))
            elif target.startswith("dm:"):
                where = str(_("message direct pour {who}")).format(who=target.removeprefix("dm:@").split(":")[0])
            else:
                where = target
        text = self.render(reply)
        if reply.topic:
            text = f"[{reply.topic}] " + text
        attached = reply.file.name if reply.file else reply.stored_file.name if reply.stored_file else None
        if attached:
            text += "\n" + str(_("[fichier joint : {name}]")).format(name=attached)
        self.say(f"── {where} ──\n{text}")

    def message(self, text: str, attachments: tuple[Attachment, ...] = ()) -> Message:
        return Message(
            platform=PLATFORM,
            event_id=EventId(uuid.uuid4().hex),
            room_id=self.state.room_id,
            room_kind=self.state.room_kind,
            sender=user_id(self.state.user),
            sender_name=self.state.user,
            text=text,
            attachments=attachments,
            dedupe=False,  # typed once, read once: nothing can deliver it again
        )

    def prompt(self) -> str:
        return f"{self.state.user}@{self.state.room}> "

    def render(self, reply: Reply) -> str:
        text = reply.plain()
        if not self.color:
            return text
        colour = {Tone.ERROR: RED, Tone.SUCCESS: GREEN}.get(reply.tone, "")
        return f"{DIM}odpe-bot ›{RESET}\n{colour}{text}{RESET if colour else ''}"

    def say(self, text: str) -> None:
        self.out.write(text + "\n\n")
        self.out.flush()

    async def handle_line(self, line: str) -> bool:
        """Handle one typed line; False when the person asked to leave."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return await self.console_command(line)
        await self.send(self.message(line))
        return True

    async def send(self, message: Message) -> None:
        for reply in await self.app.router.handle(message):
            text = self.render(reply)
            if reply.file is not None:
                text += "\n" + str(_("[fichier joint : {name}]")).format(name=reply.file.name)
            self.say(text)
        await self.app.outbox.send_due()

    async def console_command(self, line: str) -> bool:
        word, _sep, argument = line[1:].partition(" ")
        argument = argument.strip()
        with language(self.app.config.language):
            if word in ("quit", "exit", "quitter"):
                return False
            if word == "as" and NAME.match(argument):
                self.state.user = argument
                self.say(_("Vous parlez maintenant en tant que {user} ({id}).").format(
                    user=argument, id=user_id(argument)))
            elif word == "room" and NAME.match(argument):
                self.state.room = argument.lower()
                kind = {
                    RoomKind.DIRECT: _("message direct avec le bot"),
                    RoomKind.REVIEW: _("salon de revue de l'ONPE"),
                    RoomKind.ANNOUNCEMENT: _("salon d'annonces"),
                    RoomKind.GROUP: _("salon partagé"),
                }[self.state.room_kind]
                self.say(_("Vous êtes dans le salon « {room} » ({kind}).").format(room=self.state.room, kind=kind))
            elif word in ("fichier", "file") and argument:
                await self.send_file(Path(argument).expanduser())
            elif word == "help":
                self.say(self.console_help())
            else:
                self.say(_("Commande de console inconnue : « {line} ».").format(line=line) + "\n" + self.console_help())
        return True

    async def send_file(self, path: Path) -> None:
        """Send a file as if attached in a chat client (the document step of `soumettre`)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.say(_("Impossible de lire « {path} » : {error}.").format(path=path, error=exc.strerror))
            return
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        await self.send(self.message("", (Attachment(path.name, mime, data),)))

    def console_help(self) -> str:
        prefix = self.app.config.command_prefix
        lines = [
            str(_("Commandes de la console :")),
            "  /as NOM     " + str(_("parler en tant qu'une autre personne (ex. /as onpe)")),
            "  /room NOM   " + str(_("aller dans un salon : dm, revue, annonces (ou un autre nom)")),
            "  /fichier CHEMIN  " + str(_("envoyer un fichier, comme une pièce jointe")),
            "  /help       " + str(_("cette aide")),
            "  /quit       " + str(_("quitter (ou Ctrl-D)")),
            str(_("Tout le reste est envoyé au bot, ex. {cmd}.")).format(cmd=f"{prefix}aide"),
        ]
        return "\n".join(lines)

    async def run_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not await self.handle_line(line):
                break

    async def run_interactive(self, history: Path) -> None:
        import readline

        history.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # first run: no history yet
            readline.read_history_file(history)
        readline.set_history_length(1000)
        with language(self.app.config.language):
            self.say(
                f"{BOLD}odpe-bot{RESET} — "
                + str(_("console ; vous êtes {user}, en message direct avec le bot.")).format(user=self.state.user)
                + "\n"
                + self.console_help()
            )
        try:
            while True:
                try:
                    line = await asyncio.to_thread(input, self.prompt())
                except EOFError:
                    self.out.write("\n")
                    break
                except KeyboardInterrupt:
                    self.out.write("\n")
                    continue
                if not await self.handle_line(line):
                    break
        finally:
            readline.write_history_file(history)
