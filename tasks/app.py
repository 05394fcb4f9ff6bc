"""The Celery app: broker from the settings, the beat schedule in the office time zone."""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab

from workflow.settings import Settings, get_settings

# Each beat entry calls an idempotent job: a duplicate tick or a second beat does nothing twice.
BEAT_SCHEDULE = {
    "send-due-prompts": {"task": "cld.send_due_prompts", "schedule": crontab(minute="*/15")},
    "flush-outbox": {"task": "cld.flush_outbox", "schedule": 60.0},
    "poll-inbox": {"task": "cld.poll_inbox", "schedule": 60.0},
    "run-escalations": {"task": "cld.run_escalations", "schedule": crontab(minute="*/5")},
    "close-due-periods": {"task": "cld.close_due_periods", "schedule": crontab(hour=0, minute=30)},
}


def broker_options(settings: Settings) -> dict:
    """Transport options; the embedded default is kombu's filesystem transport under the data dir."""
    url = settings.effective_broker_url
    if not url.startswith("filesystem://"):
        return {"visibility_timeout": 3600}
    folder = settings.data_dir / "broker"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
            "store_processed": False}


def make_celery(settings: Settings | None = None) -> Celery:
    """Build the Celery app for `settings`."""
    settings = settings or get_settings()
    celery = Celery("cld", broker=settings.effective_broker_url, include=["tasks.jobs"])
    celery.conf.update(
        broker_transport_options=broker_options(settings),
        result_backend=settings.result_backend or None,
        task_ignore_result=not settings.result_backend,
        # A task is acknowledged only when done; a killed worker's task runs again elsewhere,
        # which is safe because every job claims its rows in the database first.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        timezone=settings.timezone,
        enable_utc=True,
        beat_schedule=BEAT_SCHEDULE,
        worker_hijack_root_logger=False,
    )
    return celery


app = make_celery()
