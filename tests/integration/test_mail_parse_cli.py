"""`cld mail parse`: the golden corpus through the real command, and garbage that never breaks it."""

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT
from workflow.cli import app

CORPUS = ROOT / "tests" / "mail"
FIXTURES = sorted(CORPUS.glob("*/*.eml"))
runner = CliRunner()


def options(eml: Path) -> list[str]:
    sidecar = eml.with_name(eml.stem + ".args.json")
    args = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    return (["--as", args["as_kind"]] if "as_kind" in args else []) + \
        (["--period", args["period"]] if "period" in args else [])


@pytest.mark.parametrize("eml", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cld_mail_parse_prints_each_golden_expectation(eml):
    result = runner.invoke(app, ["mail", "parse", str(eml), "--json", *options(eml)])
    assert result.exit_code == 0, result.output
    expected = json.loads(eml.with_name(eml.stem + ".expected.json").read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == expected


def cld_parse(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workflow.cli", "mail", "parse", str(path), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_random_bytes_an_empty_file_and_a_twenty_megabyte_attachment_all_exit_zero_with_json(tmp_path):
    junk = tmp_path / "urandom.eml"
    with open("/dev/urandom", "rb") as source:
        junk.write_bytes(source.read(256 * 1024))
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = "a@example.test", "cld@office.example", "Re: lampiran"
    big.set_content("Tanggal sesi / Session date: 3 Desember 2026\nTopik / Topic: Lampiran\n")
    big.add_attachment(os.urandom(20 * 1024 * 1024), maintype="application", subtype="octet-stream",
                       filename="scan.pdf")
    large = tmp_path / "large.eml"
    large.write_bytes(big.as_bytes())
    for path in (junk, empty, large):
        done = cld_parse(path)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        result = json.loads(done.stdout)
        assert set(result) >= {"kind", "text", "fields", "errors"}
    assert json.loads(cld_parse(empty).stdout)["kind"] == "unknown"
