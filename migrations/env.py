"""Alembic environment: migrates the database named by the cld settings (or by the caller's connection)."""

from alembic import context

from workflow.db import make_engine
from workflow.models import Base
from workflow.settings import get_settings

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=get_settings().effective_database_url, target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(get_settings().effective_database_url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    # Batch mode lets later migrations alter tables on SQLite too.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
