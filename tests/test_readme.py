"""The README's examples run as written, from a fresh clone's folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def console_example(readme: str, marker: str) -> str:
    """The lines piped into the console by the README's example that contains `marker`."""
    for piped in re.findall(r"^printf '(.*)' \| \.venv/bin/odpe-bot console$", readme, flags=re.MULTILINE):
        if marker in piped:
            return str(piped).replace("\\n", "\n")
    raise AssertionError(f"no console example with {marker!r} in the README")


def test_the_readme_submission_example_runs_as_written(tmp_path: Path) -> None:
    """What a new user pastes after the install: a document submitted, then archived by ONPE."""
    lines = console_example((ROOT / "README.md").read_text(encoding="utf-8"), "!soumettre")
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    for named in re.findall(r"^/fichier (\S+)$", lines, flags=re.MULTILINE):
        assert (ROOT / named).is_file(), f"the README names {named}, which the repository does not ship"
        (tmp_path / named).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / named, tmp_path / named)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODPE_BOT_")}
    done = subprocess.run(
        [sys.executable, "-m", "integrations.cli", "console"], input=lines, capture_output=True, text=True,
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Merci ! Votre document est enregistré sous D-1." in out
    assert "── salon revue ──\n[D-1] Nouveau document D-1 à relire" in out
    assert "✅ D-1 archivé par onpe" in out
    assert "── salon annonces ──\nNouveau document archivé : D-1 — Rapport 2025" in out
