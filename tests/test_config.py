"""Configuration: the shipped sample, environment overrides, every mistake named with its key, secrets hidden."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.logs import SecretFilter
from integrations.cli import main

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_works_for_the_console() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.database.url.startswith("sqlite+aiosqlite:///data/")
    assert not config.matrix.enabled and not config.slack.enabled
    assert config.language == "fr"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "language: fr\nmatrix: {homeserver: 'http://file:8008'}\n")
    monkeypatch.setenv("ODPE_BOT_LANGUAGE", "en")
    monkeypatch.setenv("ODPE_BOT_MATRIX__HOMESERVER", "http://env:8008")
    monkeypatch.setenv("ODPE_BOT_ROLES__ADMINS", '["@chef:example.org"]')
    config = load_config(path)
    assert config.language == "en"
    assert config.matrix.homeserver == "http://env:8008"
    assert config.roles.admins == ["@chef:example.org"]


def test_three_mistakes_are_all_named_with_their_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, "language: de\nhttp: {port: 99999}\nmatrix: {homesrver: 'http://x'}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("language:") for p in problems)
    assert any(p.startswith("http.port:") for p in problems)
    assert any(p.startswith("matrix.homesrver:") and "unknown key" in p for p in problems)


def test_check_config_exits_1_and_lists_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "timezone: Europe/Paname\ndatabase: {url: 'mysql://x'}\ncalendar: {reminders: ['demain']}\n",
    )
    assert main(["check-config", "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert "3 problème(s)" in err
    for key in ("timezone:", "database.url:", "calendar.reminders.0:"):
        assert key in err


def test_check_config_prints_a_valid_config_with_secrets_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "database: {url: 'postgresql+asyncpg://bot:pg-s3cret@db/odpe'}\n")
    monkeypatch.setenv("ODPE_BOT_MATRIX__PASSWORD", "hunter2-secret")
    assert main(["check-config", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hunter2-secret" not in out and "pg-s3cret" not in out
    shown = json.loads(out.split("\n", 1)[1])
    assert shown["database"]["url"] == "postgresql+asyncpg://bot:***@db/odpe"
    assert shown["matrix"]["password"] == "**********"


def test_enabled_matrix_without_credentials_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "matrix: {enabled: true}\n"))
    assert caught.value.problems == ["matrix: matrix is enabled: set password, or access_token and device_id"]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "language: fr\nhttp: {port: 80\n"))
    assert "line" in caught.value.problems[0]


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert caught.value.problems == [f"file not found: {tmp_path / 'absent.yaml'}"]


def test_secrets_never_reach_a_log_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODPE_BOT_SLACK__BOT_TOKEN", "xoxb-very-secret-token")
    config = load_config(write(tmp_path, ""))
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "token is %s", ("xoxb-very-secret-token",), None)
    SecretFilter(config.secrets()).filter(record)
    assert record.getMessage() == "token is ***"


def test_matrix_encryption_needs_a_pickle_key_of_our_own(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "matrix: {enabled: true, password: x}\n"))
    assert "pickle_key" in caught.value.problems[0]
    config = load_config(write(tmp_path, "matrix: {enabled: true, password: x, pickle_key: y}\n"))
    assert config.matrix.pickle_key is not None and "y" in config.secrets()


def test_tokens_a_library_logs_before_we_know_them_are_blanked_by_their_shape() -> None:
    record = logging.LogRecord(
        "nio.responses", logging.DEBUG, __file__, 1,
        "login: %s", ({"user_id": "@bot:x", "access_token": "syt_Ym90_abcdef_123"},), None,
    )
    SecretFilter([]).filter(record)
    assert "syt_Ym90_abcdef_123" not in record.getMessage()
    assert "'access_token': '***'" in record.getMessage()
    url = logging.LogRecord("aiohttp", logging.DEBUG, __file__, 1, "GET /media?access_token=abc123def", (), None)
    SecretFilter([]).filter(url)
    assert url.getMessage() == "GET /media?access_token=***"


def test_an_external_feeds_department_is_a_known_code(tmp_path: Path) -> None:
    feed = "calendar: {external_feeds: [{url: 'https://exemple.fr/a.ics', department: %s}]}\n"
    assert load_config(write(tmp_path, feed % "3")).calendar.external_feeds[0].department == "03"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, feed % "Allier"))
    [problem] = caught.value.problems
    assert problem.startswith("calendar.external_feeds.0.department:") and "not a département code" in problem
