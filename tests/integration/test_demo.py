"""`cld demo`: the newcomer's first command walks a whole month on the embedded default."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

STEPS = ["roster imported", "monthly prompts sent", "team brief", "before the session", "people reply",
         "out-of-office", "not understood", "corrects it", "SETUJU, 1 REVISI", "not taken as a yes", "refused",
         "corrected entry", "get one reminder", "reminder to the unit", "pending sign-off",
         "escalated to the unit head", "may sign in their place", "escalated to the head of office", "replies SELESAI", "December closes",
         "monthly report and one diary book written"]


def test_the_demo_walks_every_step_of_the_month_and_writes_the_files_it_names(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLD_")}
    env["CLD_DATA_DIR"] = str(tmp_path / "data")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "workflow.cli", "demo", "--dir", str(tmp_path / "demo")],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    timeline = result.stdout
    positions = [timeline.find(step) for step in STEPS]
    assert -1 not in positions, [s for s, p in zip(STEPS, positions) if p == -1]
    assert positions == sorted(positions)
    assert "0 problem(s)" in timeline
    files = [Path(line.split(": ", 1)[1]) for line in timeline.splitlines() if line.strip().startswith(
        ("monthly report", "diary book"))]
    assert len(files) == 3 and all(f.exists() and f.stat().st_size > 1000 for f in files)
    xlsx = next(f for f in files if f.suffix == ".xlsx")
    assert "Unit - Units" in load_workbook(xlsx).sheetnames
    pdf = next(f for f in files if f.suffix == ".pdf")
    assert len(PdfReader(pdf).pages) >= 3
    assert elapsed < 120
