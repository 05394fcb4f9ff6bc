"""The reporting commands, as registered in `cld`."""

import json
import zipfile

from typer.testing import CliRunner

from workflow.cli import app

runner = CliRunner()


def test_cld_report_monthly_writes_json_and_a_csv_zip(office, settings, tmp_path):
    as_json = runner.invoke(app, ["report", "monthly", "2026-12", "--format", "json", "-o", str(tmp_path / "r.json")])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert {"employees", "units", "office"} <= set(data)
    as_csv = runner.invoke(app, ["report", "monthly", "2026-12", "--format", "csv", "-o", str(tmp_path / "r.zip")])
    assert as_csv.exit_code == 0, as_csv.output
    assert zipfile.ZipFile(tmp_path / "r.zip").namelist()


def test_a_bad_period_is_refused_with_one_clear_line(office, settings, tmp_path):
    result = runner.invoke(app, ["report", "monthly", "2026-13", "--format", "json", "-o", str(tmp_path / "r.json")])
    assert result.exit_code != 0
    assert "2026-13" in result.output


def test_cld_diary_export_needs_a_nip_or_a_unit(office, settings, tmp_path):
    result = runner.invoke(app, ["diary", "export", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0 and "NIP" in result.output
