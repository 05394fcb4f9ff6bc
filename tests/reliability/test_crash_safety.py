"""Nothing lost, nothing applied twice, when a worker is SIGKILLed at random moments.

CI runs the short form (CLD_CRASH_RUNS, default 3). The full form, documented in docs/reliability.md:
    CLD_CRASH_RUNS=20 .venv/bin/python -m pytest tests/reliability/test_crash_safety.py -q -s -p no:cacheprovider
"""

import os

import pytest

from tests.reliability.crash import CrashHarness, summary

pytestmark = pytest.mark.servers

RUNS = int(os.environ.get("CLD_CRASH_RUNS", "3"))
REPLIES = int(os.environ.get("CLD_CRASH_REPLIES", "16"))
SEED = int(os.environ.get("CLD_CRASH_SEED", "9"))


@pytest.mark.timeout(max(300, RUNS * 60))
def test_a_worker_killed_at_random_moments_loses_nothing_and_applies_nothing_twice(
        pg_engine, clean_mail, faulty_smtp, redis_instance, tmp_path, capsys):
    harness = CrashHarness(engine=pg_engine, clean_mail=clean_mail, smtp=faulty_smtp, redis=redis_instance,
                           folder=tmp_path, replies=REPLIES, seed=SEED)
    busy = harness.calibrate()
    results = []
    for number in range(1, RUNS + 1):
        results.append(harness.run(number))
    report = summary(results)
    with capsys.disabled():
        print(f"\ncalibration: {REPLIES} replies ingested and answered in {busy:.2f} s undisturbed; "
              "kills are drawn uniformly within that time after the ticks are sent")
        print(report)
    if os.environ.get("CLD_CRASH_REPORT"):
        with open(os.environ["CLD_CRASH_REPORT"], "w") as out:
            out.write(f"calibration: {busy:.2f} s\n{report}\n")
    assert sum(r.lost_inbound + r.lost_emails for r in results) == 0
    assert sum(r.duplicated_entries for r in results) == 0
    assert all(not r.unexplained_duplicates for r in results), report
    assert sum(len(r.kills) for r in results) >= RUNS
