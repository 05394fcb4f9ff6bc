import os
import signal
import subprocess
import sys

import pytest
import redis
from sqlalchemy import select

from tests.conftest import REDIS_URL, ROOT
from workflow.models import AuditEvent

pytestmark = pytest.mark.servers


@pytest.fixture
def worker_env(pg_engine, tmp_path):
    redis.Redis.from_url(REDIS_URL).flushdb()
    return {**os.environ, "CLD_BROKER_URL": REDIS_URL, "CLD_RESULT_BACKEND": REDIS_URL,
            "CLD_DATABASE_URL": pg_engine.url.render_as_string(hide_password=False), "CLD_DATA_DIR": str(tmp_path)}


def start_worker(env, name="w1"):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks.app", "worker", "--pool=solo", "--loglevel=WARNING",
         "-n", f"{name}@%h", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def test_a_real_worker_on_redis_runs_a_task_that_reaches_the_database(worker_env, pg_engine, monkeypatch):
    worker = start_worker(worker_env)
    try:
        for key, value in worker_env.items():
            if key.startswith("CLD_"):
                monkeypatch.setenv(key, value)
        from tasks.app import make_celery
        from workflow.settings import load_settings

        client = make_celery(load_settings())
        result = client.send_task("cld.ping", args=[41])
        assert result.get(timeout=60) == 41
        with pg_engine.connect() as connection:
            rows = connection.execute(select(AuditEvent.subject_id).where(AuditEvent.event == "heartbeat")).all()
        assert rows == [(41,)]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


def test_the_beat_schedule_names_only_registered_tasks_in_the_office_time_zone():
    import tasks.jobs  # noqa: F401 registers the tasks
    from tasks.app import BEAT_SCHEDULE, app

    assert app.conf.timezone == "Asia/Jakarta"
    assert {entry["task"] for entry in BEAT_SCHEDULE.values()} <= set(app.tasks)


def test_the_embedded_broker_needs_no_server(tmp_path):
    from tasks.app import make_celery
    from workflow.settings import load_settings

    celery = make_celery(load_settings(data_dir=tmp_path, broker_url=""))
    with celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        producer = celery.amqp.Producer(connection)
        celery.send_task("cld.ping", args=[1], producer=producer)
    assert list((tmp_path / "broker" / "queue").iterdir())
