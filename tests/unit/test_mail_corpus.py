"""The golden corpus: every real-shaped reply under tests/mail/ parses exactly as its expected JSON says."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow.mail.dryrun import parse_message

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "mail"
FIXTURES = sorted(CORPUS.glob("*/*.eml"))


def _args(eml: Path) -> dict:
    sidecar = eml.with_name(eml.stem + ".args.json")
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}


def _run_module(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workflow.mail.dryrun", *argv], cwd=ROOT, input=stdin,
                          capture_output=True, timeout=120)


def test_the_corpus_covers_every_kind_with_at_least_forty_replies():
    kinds = {eml.parent.name for eml in FIXTURES}
    assert len(FIXTURES) >= 40
    assert {"entry", "decision", "followup", "needs", "auto_reply", "bounce", "unknown"} <= kinds


def test_the_fixtures_keep_their_crlf_line_endings():
    for eml in FIXTURES:
        raw = eml.read_bytes()
        assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"), eml.name


@pytest.mark.parametrize("eml", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_reply_parses_as_its_golden_expectation(eml: Path):
    expected = json.loads(eml.with_name(eml.stem + ".expected.json").read_text(encoding="utf-8"))
    assert parse_message(eml.read_bytes(), **_args(eml)) == expected
    assert eml.parent.name == expected["kind"]


def test_the_module_prints_the_same_json_as_the_function():
    eml = CORPUS / "entry" / "outlook_desktop_en.eml"
    done = _run_module(str(eml))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == parse_message(eml.read_bytes())


def test_the_module_accepts_a_kind_and_a_period():
    eml = CORPUS / "entry" / "outlook_desktop_en.eml"
    done = _run_module(str(eml), "--as", "entry", "--period", "2026-11")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["kind"] == "entry"
    assert [e["field"] for e in result["errors"]] == ["session_date"]


def test_random_bytes_give_json_and_exit_zero(tmp_path):
    junk = tmp_path / "junk.eml"
    junk.write_bytes(os.urandom(64 * 1024))
    done = _run_module(str(junk))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] in {"unknown", "entry", "decision", "followup", "needs"}


def test_an_empty_file_gives_unknown_and_exit_zero(tmp_path):
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    done = _run_module(str(empty))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "unknown"


def test_a_reply_with_a_twenty_megabyte_attachment_still_parses(tmp_path):
    boundary = "----=_attachment_boundary"
    body = ("Tanggal sesi / Session date: 02/12/2026\r\nJam / Time: 09.00-10.00\r\n"
            "Topik / Topic: Lelang\r\nCatatan dan hasil pembelajaran / Notes and learning outcomes: Catatan\r\n"
            "Penilaian / Rating: 2\r\n")
    attachment = os.urandom(15 * 1024 * 1024)
    raw = (
        "From: Budi Santoso <budi.santoso@office.example>\r\nTo: cld@office.example\r\n"
        "Subject: Re: [CLD-0123456789ab] Sesi coaching\r\nDate: Wed, 2 Dec 2026 10:00:00 +0700\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf; name=foto.pdf\r\n"
        "Content-Disposition: attachment; filename=foto.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(attachment).replace(b"\n", b"\r\n") + f"--{boundary}--\r\n".encode()
    assert len(raw) > 20 * 1024 * 1024
    big = tmp_path / "big.eml"
    big.write_bytes(raw)
    done = _run_module(str(big))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["kind"] == "entry" and result["errors"] == []


def test_a_missing_file_is_reported_as_json_with_exit_one(tmp_path):
    done = _run_module(str(tmp_path / "absent.eml"))
    assert done.returncode == 1
    assert json.loads(done.stdout)["errors"][0]["field"] == "path"


def test_standard_input_can_be_parsed():
    eml = CORPUS / "decision" / "iphone_setuju_exclaim.eml"
    done = _run_module("-", stdin=eml.read_bytes())
    assert json.loads(done.stdout)["fields"]["decision"] == "approve"
