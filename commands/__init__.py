"""The command families; each module declares its commands on the shared registry."""

from __future__ import annotations

import importlib

from bot.registry import Registry

# How the help and the README list them.
FAMILIES = ("help", "profile", "directory", "documents", "questions", "calendar", "dialogs", "review")
MODULES = ("help", "profile", "directory", "documents", "practices", "search", "questions", "calendar", "dialogs",
           "review")

registry = Registry(family_order=FAMILIES, module_order=tuple(f"commands.{m}" for m in MODULES))
command = registry.command


def load() -> Registry:
    """Import every module so that its commands are declared, and return the registry."""
    for module in MODULES:
        importlib.import_module(f"commands.{module}")
    return registry
