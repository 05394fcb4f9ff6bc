"""lz4 compression for stored mail on PostgreSQL

Every inbound and outbound message keeps its raw bytes (10-13 KB for a reply or a prompt). PostgreSQL
compresses such values with pglz by default, which cost 0.21 ms of the server's CPU per 12.5 KB prompt
written, against 0.06 ms with lz4, for the same size on disk (bench/README.md): on the prompt day the
server's CPU is shared with the mail servers delivering the prompts. lz4 is in PostgreSQL 14 and later
when built with it (Debian's and the official images are); where it is not offered, nothing changes.
Existing rows keep their compression; new ones use lz4. SQLite stores the bytes as they are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 00:50:00
"""
from alembic import op
from sqlalchemy import text

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

RAW_COLUMNS = (('inbound_messages', 'raw'), ('outbound_messages', 'raw'))


def _lz4_offered() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return False
    return bool(bind.execute(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def upgrade() -> None:
    if _lz4_offered():
        for table, column in RAW_COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4')


def downgrade() -> None:
    if _lz4_offered():
        for table, column in RAW_COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION pglz')
