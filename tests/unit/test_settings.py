import subprocess
import sys

import pytest

from workflow.settings import SettingsError, load_settings


def test_the_defaults_run_on_the_embedded_stack(monkeypatch, tmp_path):
    for name in ("CLD_DATABASE_URL", "CLD_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'cld.sqlite3'}"
    assert settings.effective_broker_url == "filesystem://"
    assert settings.timezone == "Asia/Jakarta"


def test_a_bad_port_names_the_variable_in_one_line(monkeypatch):
    monkeypatch.setenv("CLD_SMTP_PORT", "abc")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith("invalid setting CLD_SMTP_PORT (got 'abc')")
    assert "\n" not in str(error.value)


def test_an_unknown_time_zone_is_refused(monkeypatch):
    monkeypatch.setenv("CLD_TIMEZONE", "Asia/Atlantis")
    with pytest.raises(SettingsError, match="CLD_TIMEZONE"):
        load_settings()


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("CLD_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("CLD_SMTP_PASSWORD_FILE", str(secret))
    assert load_settings().smtp_password == "s3cret"


def test_a_secret_is_never_echoed_in_the_error(monkeypatch):
    monkeypatch.setenv("CLD_SMTP_PASSWORD_FILE", "/nonexistent/secret")
    monkeypatch.delenv("CLD_SMTP_PASSWORD", raising=False)
    with pytest.raises(SettingsError, match="CLD_SMTP_PASSWORD_FILE"):
        load_settings()


def test_the_reply_address_takes_a_token_as_a_subaddress():
    settings = load_settings(reply_address="CLD@Office.Example")
    assert settings.reply_address_for("abc123") == "cld+abc123@office.example"


def test_the_command_line_stops_with_one_line_and_a_non_zero_exit_on_a_bad_setting(monkeypatch):
    monkeypatch.setenv("CLD_SMTP_PORT", "abc")
    result = subprocess.run([sys.executable, "-m", "workflow.cli", "roster", "show"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "cld: invalid setting CLD_SMTP_PORT (got 'abc'): Input should be a valid integer, unable to parse string as an integer"
    ]


def test_closure_dates_and_reminder_days_take_commas_or_json(monkeypatch):
    monkeypatch.setenv("CLD_CLOSURE_DATES", "2026-12-24, 2026-12-31")
    monkeypatch.setenv("CLD_REMINDER_WORKING_DAYS", "[8, 12]")
    settings = load_settings()
    assert [d.isoformat() for d in settings.closure_dates] == ["2026-12-24", "2026-12-31"]
    assert settings.reminder_working_days == [8, 12]


def test_a_bad_closure_date_names_the_variable(monkeypatch):
    monkeypatch.setenv("CLD_CLOSURE_DATES", "2026-13-01")
    with pytest.raises(SettingsError, match="CLD_CLOSURE_DATES"):
        load_settings()
