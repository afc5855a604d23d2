"""Who may run what, where: the rules are tables, checked in one place."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

from bot.config import Config
from bot.messages import Message, RoomKind
from bot.registry import Command, Role, Where

# Which rooms each `where` of a command allows.
ROOMS_FOR: dict[Where, frozenset[RoomKind]] = {
    Where.ANYWHERE: frozenset(RoomKind),
    Where.REVIEW_ROOM: frozenset({RoomKind.REVIEW}),
    Where.DIRECT: frozenset({RoomKind.DIRECT}),
}

# Which roles satisfy a command's required role.
SATISFIES: dict[Role, frozenset[Role]] = {
    Role.MEMBER: frozenset({Role.MEMBER, Role.REVIEWER, Role.ADMIN}),
    Role.REVIEWER: frozenset({Role.REVIEWER}),
    Role.ADMIN: frozenset({Role.ADMIN}),
}


class Denial(enum.Enum):
    ROLE = "role"
    ROOM = "room"


SLACK_USER = re.compile(r"^slack:[UW][A-Z0-9]{2,}$")


def sender_allowed(message: Message, config: Config) -> bool:
    """Matrix users must come from an allowed server (by default, the bot's own); Slack users are `slack:U…` of
    the bot's workspace (the integration drops what comes from others) and only while Slack is enabled; the
    console is one person at a keyboard."""
    if message.platform == "slack":
        return config.slack.enabled and SLACK_USER.match(message.sender) is not None
    if message.platform != "matrix":
        return True
    server = message.sender.partition(":")[2]
    allowed = config.matrix.allowed_servers or [config.matrix.user_id.partition(":")[2]]
    return server in allowed


def roles_of(user_id: str, stored_roles: Iterable[str], config: Config) -> frozenset[Role]:
    """Configured roles and roles granted in the database. Where one speaks grants nothing: a référent invited
    to the review room (to follow a discussion, by mistake) is no reviewer there."""
    roles = {Role.MEMBER}
    stored = set(stored_roles)
    if user_id in config.roles.admins or Role.ADMIN.value in stored:
        roles.add(Role.ADMIN)
    if user_id in config.roles.reviewers or Role.REVIEWER.value in stored:
        roles.add(Role.REVIEWER)
    return frozenset(roles)


def check(command: Command, roles: frozenset[Role], room_kind: RoomKind) -> Denial | None:
    if not roles & SATISFIES[command.role]:
        return Denial.ROLE
    if room_kind not in ROOMS_FOR[command.where]:
        return Denial.ROOM
    return None
