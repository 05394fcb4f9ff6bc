"""The production stack files: docker-compose parses and every command it runs exists in the project."""

import shlex
from pathlib import Path

import yaml

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def cld_command_exists(words: list[str]) -> bool:
    from typer.main import get_command

    from workflow.cli import app

    command = get_command(app)
    for word in words:
        if word.startswith("-"):
            break
        command = command.commands.get(word) if hasattr(command, "commands") else None
        if command is None:
            return False
    return True


def test_the_compose_file_has_the_production_services_with_health_checks_and_volumes():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "migrate", "worker", "beat", "inbox", "flower"} <= set(services)
    for name in ("postgres", "redis", "worker"):
        assert "healthcheck" in services[name]
    assert {"pg-data", "redis-data", "cld-data"} <= set(COMPOSE["volumes"])
    assert services["beat"]["deploy"]["replicas"] == 1 and services["inbox"]["deploy"]["replicas"] == 1
    assert services["worker"]["environment"]["CLD_BROKER_URL"].startswith("redis://")


def test_every_service_command_exists_in_the_project():
    import tasks.jobs  # noqa: F401
    from tasks.app import app as celery_app

    dockerfile = (ROOT / "Dockerfile").read_text()
    for name, service in COMPOSE["services"].items():
        command = service.get("command")
        if command is None:
            continue
        words = command if isinstance(command, list) else shlex.split(command)
        if words[0] == "cld":
            assert cld_command_exists(words[1:]), f"{name}: cld {' '.join(words[1:])} does not exist"
        elif words[0] == "celery":
            assert words[1:3] == ["-A", "tasks.app"] and celery_app.main == "cld"
            assert words[3] in ("worker", "beat", "flower")
            if words[3] == "flower":
                assert "flower" in dockerfile
        elif name not in ("redis",):
            raise AssertionError(f"{name}: unexpected command {words}")


def test_the_env_example_names_only_real_settings():
    from workflow.settings import Settings

    known = {f"CLD_{name.upper()}" for name in Settings.model_fields}
    names = [line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    assert [n for n in names if n.startswith("CLD_") and n not in known] == []


def test_the_dockerfile_copies_everything_the_service_reads():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in ("workflow", "tasks", "migrations", "email_templates"):
        assert f"COPY {folder}" in dockerfile and Path(ROOT / folder).is_dir()
