"""The `odpe-bot` command as an operator uses it: run, db upgrade, and clear refusals of a bad config."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from integrations.cli import main

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODPE_BOT_")}
    return {**env, "PYTHONPATH": str(ROOT)}


def test_run_migrates_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "config.yaml").write_text(
        f"http: {{port: {port}}}\nmatrix: {{password: 'mot-de-passe-secret'}}\n", encoding="utf-8"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.cli", "run"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert "odpe_bot_up 1.0" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert httpx.get(f"http://127.0.0.1:{port}/ical/inconnu.ics").status_code == 404  # feeds are served
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert (tmp_path / "data" / "odpe-bot.db").exists()
    assert "mot-de-passe-secret" not in output


def test_run_with_a_bad_config_exits_with_the_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.yaml").write_text("http: {port: -1}\nlangage: fr\n", encoding="utf-8")
    assert main(["run", "-c", str(tmp_path / "config.yaml")]) == 1
    err = capsys.readouterr().err
    assert "http.port:" in err and "langage: unknown key" in err


def test_db_upgrade_brings_a_new_database_to_the_latest_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.yaml").write_text(
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/nouvelle/base.db'}}\n", encoding="utf-8"
    )
    assert main(["db", "upgrade", "-c", str(tmp_path / "config.yaml")]) == 0
    assert "Base de données à jour" in capsys.readouterr().out
    assert (tmp_path / "nouvelle" / "base.db").stat().st_size > 0
