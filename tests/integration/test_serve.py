"""`cld serve` on the embedded default: SQLite, the filesystem broker and the local mail sandbox."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from zoneinfo import ZoneInfo

import pytest
from imap_tools import MailBoxUnencrypted

from tests.conftest import EXAMPLES, ROOT
from tests.support.faulty_smtp import free_port
from workflow.calendar import OfficeCalendar

pytestmark = pytest.mark.slow


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def entries(db_path):
    try:
        with sqlite3.connect(db_path) as connection:
            return connection.execute("select count(*) from entries").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_serve_processes_a_reply_dropped_into_the_sandbox_and_stops_on_sigint_within_ten_seconds(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLD_")}
    env.update(CLD_DATA_DIR=str(tmp_path), CLD_SMTP_PORT=str(free_port()), CLD_IMAP_PORT=str(free_port()),
               CLD_REPLY_ADDRESS="cld@office.example", CLD_IMAP_USER="cld@office.example")

    def cld(*args):
        result = subprocess.run([sys.executable, "-m", "workflow.cli", *args], env=env, capture_output=True,
                                text=True, timeout=120, cwd=ROOT)
        assert result.returncode == 0, result.stderr
        return result.stdout

    cld("db", "upgrade")
    cld("roster", "import", str(EXAMPLES / "roster.csv"), "--units", str(EXAMPLES / "units.csv"))
    server = subprocess.Popen([sys.executable, "-m", "workflow.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from workflow.serve import port_answers

        wait_until(lambda: port_answers("127.0.0.1", int(env["CLD_SMTP_PORT"])), 30, "the sandbox")
        tz = ZoneInfo("Asia/Jakarta")
        today = datetime.now(tz)
        calendar = OfficeCalendar(tz=tz)
        period = today.strftime("%Y-%m")
        prompt_time = calendar.prompt_at(period)
        # The service runs on the real clock: prompt the current month as of its prompt time.
        cld("prompts", "send", "--now", prompt_time.isoformat())
        address = "andi.ridwan@example.test"
        with MailBoxUnencrypted("127.0.0.1", int(env["CLD_IMAP_PORT"])) as box:
            box.login(address, "sandbox")
            prompts = list(box.fetch(mark_seen=False))
        if not prompts:
            pytest.fail(f"no prompt for {address}; roster addresses: {(EXAMPLES / 'roster.csv').read_text()[:300]}")
        prompt = prompts[0]
        reply = EmailMessage()
        reply["From"] = address
        reply["To"] = parseaddr(prompt.headers["reply-to"][0])[1]
        reply["Subject"] = "Re: " + " ".join(prompt.subject.split())
        reply.set_content(f"Tanggal sesi / Session date: {today.strftime('%d/%m/%Y')}\n"
                          "Durasi (menit) / Duration (minutes): 45\nTopik / Topic: Tata cara lelang\n"
                          "Catatan dan hasil pembelajaran / Notes and learning outcomes: Belajar banyak\n"
                          "Penilaian / Rating: 2\n")
        import smtplib

        with smtplib.SMTP("127.0.0.1", int(env["CLD_SMTP_PORT"])) as smtp:
            smtp.send_message(reply)
        wait_until(lambda: entries(tmp_path / "cld.sqlite3"), 60, "the entry made by the running service")
    finally:
        started = time.monotonic()
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0]
        stopped_in = time.monotonic() - started
    assert server.returncode == 0, output
    assert stopped_in < 10, output
    assert "stopped" in output
