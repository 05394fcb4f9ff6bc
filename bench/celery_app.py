"""The Celery app for the bench's workers: the real tasks, with the clock moved to the bench's reply day.

`celery -A bench.celery_app worker`: the prefork children inherit the moved clock from this parent.
"""

import os

from workflow import clock

if os.environ.get("CLD_BENCH_NOW"):
    _instant = clock.parse_instant(os.environ["CLD_BENCH_NOW"])
    clock.set_clock(lambda: _instant)

import tasks.jobs  # noqa: E402,F401 registers the tasks
from tasks.app import app  # noqa: E402,F401
