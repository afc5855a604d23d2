"""Exceptions the core turns into one clear sentence for the person who typed the command."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from a person: `message` is shown to them as is, with the command's help line."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = str(message)  # translated now, while the person's language is in force


class Forbidden(Exception):
    """A person tried part of a command that needs a role they do not have."""

    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role
