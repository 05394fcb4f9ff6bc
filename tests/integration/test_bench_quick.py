"""`python -m bench all --quick` runs end to end against the real servers; it reports speed, never asserts it."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def test_the_quick_bench_completes_prints_its_ratios_and_writes_the_results(tmp_path, mail_servers):
    output = tmp_path / "results.json"
    result = subprocess.run([sys.executable, "-m", "bench", "all", "--quick", "--output", str(output)], cwd=ROOT,
                            capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "ingest" in result.stdout and "fan-out" in result.stdout and "ratio" in result.stdout
    assert "per-item cost" in result.stdout and "process(es)" in result.stdout
    results = json.loads(output.read_text())
    assert results["quick"] is True and results["n"] > 0 and results["date"] and results["machine"]["cores"]
    compare = results["compare"]
    # Every reply became an entry with a receipt and a sign-off request, in both pipelines.
    assert compare["ingest"]["kinds"] == {"entry": compare["ingest"]["replies"]}
    assert compare["ingest"]["sent"] == 2 * compare["ingest"]["replies"] == compare["ingest_bare"]["sent"]
    assert compare["fanout"]["sent"] == compare["fanout"]["prompts"] == compare["fanout_bare"]["sent"]
    for ratio in (compare["ingest"]["ratio"], compare["fanout"]["ratio"]):
        assert ratio > 0
    rows = results["scaling"]["rows"]
    assert [row["size"] for row in rows] == sorted(row["size"] for row in rows) and len(rows) >= 2
    assert all(row["ingest"]["queries_per_message"] > 0 and row["process_peak_rss_mb"] > 0 for row in rows)
    assert [r["workers"] for r in results["workers"]["rounds"]] == [1, 2]
    assert all(r["statuses"] == {"processed": r["messages"]} for r in results["workers"]["rounds"])
