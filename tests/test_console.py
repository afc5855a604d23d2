"""The console: the whole bot in a terminal, as a new user first meets it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.app import App
from integrations.console import Console

ROOT = Path(__file__).resolve().parent.parent


async def run(app: App, *lines: str) -> str:
    out = io.StringIO()
    await Console(app, out=out).run_lines(lines)
    return out.getvalue()


def test_piped_console_answers_in_french_on_a_fresh_directory(tmp_path: Path) -> None:
    """The README's demo: help, the Allier contact, and a did-you-mean, from an empty folder."""
    (tmp_path / "config.yaml").write_text((ROOT / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODPE_BOT_")}
    done = subprocess.run(
        [sys.executable, "-m", "integrations.cli", "console"],
        input="!aide\n!annuaire allier\n!aidee\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Commandes d'odpe-bot" in out
    assert "Mme Blandine AATAR" in out and "aatar.b@allier.fr" in out
    assert "Vouliez-vous dire `!aide` ?" in out
    assert (tmp_path / "data" / "odpe-bot.db").exists()
    assert "\033[" not in out  # plain text when not a terminal


async def test_as_and_room_change_who_speaks_and_where(app: App) -> None:
    out = await run(app, "/as onpe", "/room revue", "!profil")
    assert "Vous parlez maintenant en tant que onpe (@onpe:console)." in out
    assert "Vous êtes dans le salon « revue » (salon de revue de l'ONPE)." in out
    assert "\n  Rôles : relecteur ONPE\n" in out


async def test_a_room_other_than_the_three_is_a_shared_room_where_chatter_is_ignored(app: App) -> None:
    out = await run(app, "/room cafe", "bonjour tout le monde", "!aide")
    moved = "Vous êtes dans le salon « cafe » (salon partagé).\n\n"
    assert out.startswith(moved)
    # Nothing at all between the move and the help: the chatter got no answer, not even an error.
    assert out.removeprefix(moved).startswith("Commandes d'odpe-bot\n")


async def test_console_help_and_unknown_console_command(app: App) -> None:
    out = await run(app, "/help", "/voler")
    assert "/as NOM" in out and "/room NOM" in out
    assert "Commande de console inconnue : « /voler »." in out


async def test_quit_stops_reading(app: App) -> None:
    out = await run(app, "/quit", "!aide")
    assert out == ""


async def test_the_document_circuit_end_to_end_on_the_console(app: App, tmp_path: Path) -> None:
    document = tmp_path / "rapport.pdf"
    document.write_bytes(b"%PDF-1.4\n1 0 obj<< /Title (console) >>endobj\ntrailer<<>>\n%%EOF\n")
    out = await run(
        app,
        "!soumettre", "4", "Rapport 2025", "03/11/2025", "Service ODPE", "indicateurs", "Données ASE", "3", "03",
        f"/fichier {document}", "-", "oui",
        "/as onpe", "/room revue", "!file", "!approuver D-1 Merci",
        "/as marie", "/room dm", "!statut",
    )
    assert "Merci ! Votre document est enregistré sous D-1." in out
    assert "── salon revue ──\n[D-1] Nouveau document D-1 à relire" in out
    assert "[fichier joint : rapport.pdf]" in out
    assert "D-1 — Rapport 2025 — soumis, en attente de relecture" in out
    assert "── message direct pour marie ──\nBonne nouvelle : votre soumission D-1" in out
    assert "── salon annonces ──\nNouveau document archivé : D-1 — Rapport 2025" in out
    assert "D-1 — Rapport 2025 : archivé" in out


async def test_a_file_that_cannot_be_read_is_said_so(app: App, tmp_path: Path) -> None:
    out = await run(app, f"/fichier {tmp_path / 'absent.pdf'}")
    assert "Impossible de lire" in out and "absent.pdf" in out


async def test_a_question_and_a_practice_on_the_console(app: App) -> None:
    await app.prepare()
    out = await run(
        app,
        "!question Comment transmettre un document à l'ONPE ?", "oui",
        "!pratique", "oui", "15/09/2023", "Association Les Liens", "Café des parents", "Un lieu d'accueil.",
        "2", "3", "1", "3", "1", "03", "oui",
    )
    assert "Réponse à votre question Q-1" in out and "Merci ! Bonne continuation." in out
    assert "Merci ! Votre pratique est enregistrée sous P-1." in out
    assert "── salon revue ──\n[P-1] Nouvelle pratique inspirante P-1 à examiner" in out
