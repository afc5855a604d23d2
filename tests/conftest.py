"""Shared fixtures: the database fixtures (SQLite and PostgreSQL) and a bot wired on a migrated database."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config
from storage.db import Database

pytest_plugins = ["tests.db_fixtures", "tests.synapse"]


@pytest.fixture
async def app(migrated_db: Database, tmp_path: Path) -> App:
    """The bot as shipped (all commands), on a migrated database; @admin and @onpe have their console roles."""
    config = Config(
        database={"url": migrated_db.url.render_as_string(hide_password=False)},
        files={"dir": str(tmp_path / "files")},
        roles={"admins": ["@admin:console"], "reviewers": ["@onpe:console"]},
        rate_limit={"per_minute": 0},
    )
    return App(config, db=migrated_db)


def pytest_report_header(config: pytest.Config) -> str:
    import os

    from tests.db_fixtures import POSTGRESQL_URL_VARIABLE

    if os.environ.get(POSTGRESQL_URL_VARIABLE):
        return f"database tests: SQLite and PostgreSQL ({POSTGRESQL_URL_VARIABLE} is set)"
    return f"database tests: SQLite only (set {POSTGRESQL_URL_VARIABLE} to run them on PostgreSQL too)"
