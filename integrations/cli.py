"""The `odpe-bot` command: run, console, db upgrade, check-config, annuaire import."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bot.app import App
from bot.config import DEFAULT_PATH, Config, ConfigError, load_config
from bot.logs import setup_logging
from storage import migrate
from storage.contacts_csv import parse_contacts
from storage.repositories import Repos

log = logging.getLogger("odpe-bot")

# Integrations of this version; enabling one that is not here is a configuration error.
AVAILABLE_PLATFORMS: tuple[str, ...] = ("matrix", "slack")


def parser() -> argparse.ArgumentParser:
    config_option = argparse.ArgumentParser(add_help=False)
    config_option.add_argument(
        "-c", "--config", type=Path, default=DEFAULT_PATH, help="configuration file (default: ./config.yaml)"
    )
    root = argparse.ArgumentParser(
        prog="odpe-bot", description="Bot du réseau des ODPE et de l'ONPE.", parents=[config_option]
    )
    verbs = root.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    run = verbs.add_parser("run", parents=[config_option], help="run the bot: integrations, HTTP server, scheduler")
    run.add_argument("--no-migrate", action="store_true", help="do not apply pending database migrations first")
    verbs.add_parser("console", parents=[config_option], help="talk to the bot in this terminal")
    verbs.add_parser("check-config", parents=[config_option], help="validate the configuration and say what is wrong")
    db = verbs.add_parser("db", help="database maintenance")
    db_verbs = db.add_subparsers(dest="db_verb", required=True, metavar="ACTION")
    db_verbs.add_parser("upgrade", parents=[config_option], help="apply migrations up to the latest")
    directory = verbs.add_parser("annuaire", aliases=["directory"], help="ODPE directory")
    directory_verbs = directory.add_subparsers(dest="directory_verb", required=True, metavar="ACTION")
    load = directory_verbs.add_parser("import", parents=[config_option], help="load contacts from a CSV file")
    load.add_argument("file", type=Path, help="CSV: departement, nom, fonction, email, telephone, structure, adresse")
    load.add_argument("--dry-run", action="store_true", help="check the file, change nothing")
    return root


def load_or_explain(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"Configuration invalide ({exc.source}) — {len(exc.problems)} problème(s) :", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def check_platforms(config: Config) -> list[str]:
    enabled = [name for name in ("matrix", "slack") if getattr(config, name).enabled]
    return [
        f"{name}.enabled: this version of odpe-bot has no {name} integration yet"
        for name in enabled
        if name not in AVAILABLE_PLATFORMS
    ]


async def run(config: Config, migrate_first: bool) -> int:
    from integrations.runtime import Runtime, enabled_platforms

    app = App(config)
    if migrate_first:
        await app.migrate()
    elif await migrate.pending(config.database.url):
        log.warning("the database is not at the latest migration: run `odpe-bot db upgrade`")
    runtime = Runtime(app, enabled_platforms(app))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await runtime.start()
    log.info("odpe-bot is running (database %s)", config.database.masked_url())
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await runtime.stop()
    return 0


async def console(config: Config) -> int:
    from integrations.console import Console

    app = App(config)
    await app.migrate()
    interactive = sys.stdin.isatty()
    shell = Console(app, color=interactive and sys.stdout.isatty())
    try:
        if interactive:
            await shell.run_interactive(config.console.history_file)
        else:
            await shell.run_lines(sys.stdin)
    finally:
        await app.close()
    return 0


async def import_directory(config: Config, path: Path, dry_run: bool) -> int:
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"Impossible de lire {path} : {exc.strerror}", file=sys.stderr)
        return 1
    parsed = parse_contacts(data)
    if parsed.errors:
        print(f"{path} : {len(parsed.errors)} erreur(s), rien n'a été importé :", file=sys.stderr)
        for error in parsed.errors:
            print(f"  - {error}", file=sys.stderr)
        return 1
    departments = sorted({row.department for row in parsed.rows})
    if dry_run:
        print(f"{path} : {len(parsed.rows)} contact(s) valides pour {len(departments)} département(s) ; "
              "rien n'a été modifié (--dry-run).")
        return 0
    app = App(config)
    try:
        await app.migrate()
        async with app.db.session() as session:
            repo = Repos(session)
            written = await repo.directory.replace([asdict(row) for row in parsed.rows], actor=f"import:{path.name}")
            for code in departments:
                await repo.audit.append(f"annuaire:{code}", "directory.import", detail={"file": path.name})
    finally:
        await app.close()
    print(f"{written} contact(s) importé(s) pour {len(departments)} département(s) : {', '.join(departments)}.")
    return 0


async def upgrade(config: Config) -> int:
    await migrate.upgrade(config.database.url)
    print(f"Base de données à jour (révision {migrate.head_revision()}).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = load_or_explain(args.config)
    if config is None:
        return 1
    problems = check_platforms(config)
    if args.verb == "check-config":
        if problems:
            print(f"Configuration invalide ({args.config}) — {len(problems)} problème(s) :", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        print(f"Configuration valide ({args.config}) :")
        print(json.dumps(config.masked(), indent=2, ensure_ascii=False))
        return 0
    setup_logging(config.logging.level if args.verb == "run" else "WARNING", config.secrets())
    if args.verb == "run":
        if problems:
            for problem in problems:
                print(f"Configuration invalide : {problem}", file=sys.stderr)
            return 1
        return asyncio.run(run(config, migrate_first=not args.no_migrate))
    if args.verb == "console":
        return asyncio.run(console(config))
    if args.verb == "db":
        return asyncio.run(upgrade(config))
    return asyncio.run(import_directory(config, args.file, args.dry_run))


if __name__ == "__main__":
    sys.exit(main())
