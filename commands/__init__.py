"""The command families; each module declares its commands on the shared registry."""

from __future__ import annotations

import importlib

from bot.registry import Registry

FAMILIES = ("help", "profile", "directory", "documents", "dialogs", "review")

registry = Registry(family_order=FAMILIES)
command = registry.command


def load() -> Registry:
    """Import every family so that its commands are declared, and return the registry."""
    for family in FAMILIES:
        importlib.import_module(f"commands.{family}")
    return registry
