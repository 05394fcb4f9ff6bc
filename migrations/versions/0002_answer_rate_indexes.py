"""indexes for the per-sender answer limit

The answer limit (workflow.replies.answers_today) joins the outbox to the inbound messages it answered and
filters on the sender's address. Without these two indexes PostgreSQL scanned the whole outbox for every
reply: 14 ms per message at 100,000 employees against 0.2 ms at 1,000 (bench/README.md).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 21:10:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_from_address'), ['from_address'], unique=False)
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbound_messages_in_reply_to_inbound_id'), ['in_reply_to_inbound_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_messages_in_reply_to_inbound_id'))
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_from_address'))
