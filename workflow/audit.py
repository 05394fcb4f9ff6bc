"""Audit events and the one way states change: explicit, checked transitions."""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, event, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from workflow import clock
from workflow.models import AuditEvent


class TransitionError(Exception):
    """A state change asked from a state that does not allow it."""


PENDING = "cld_audit_rows"
_INSERT = insert(AuditEvent.__table__)


def record(session: Session, *, actor: str, subject: Any, event: str,
           from_state: str | None = None, to_state: str | None = None, **detail: Any) -> None:
    """Write one audit row about `subject` (any model with an integer id), with the transaction's commit.

    Rows wait in the session and go in one multi-row INSERT just before the commit: a reply that causes
    five events costs one statement, not five, and a rollback drops them with everything else.
    """
    record_row(session, subject.__tablename__, subject.id, actor=actor, event=event, from_state=from_state,
               to_state=to_state, **detail)


def record_row(session: Session, table: str, subject_id: int, *, actor: str, event: str,
               from_state: str | None = None, to_state: str | None = None, **detail: Any) -> None:
    """`record` for a row written past the ORM, named by its table and id."""
    session.info.setdefault(PENDING, []).append(dict(
        at=clock.now(), actor=actor[:320], subject_type=table, subject_id=subject_id, event=event,
        from_state=from_state, to_state=to_state, detail=_plain(detail)))


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    rows = session.info.pop(PENDING, None)
    if rows:
        # The table, not the ORM entity: one multi-row INSERT straight to the connection (the ORM's bulk
        # insert grouped rows by which values were None, one INSERT per group).
        session.connection().execute(_INSERT, rows)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous) -> None:
    if not session.in_transaction():
        session.info.pop(PENDING, None)


def transition(session: Session, subject: Any, to_state: enum.Enum, *, allowed_from: Iterable[enum.Enum],
               actor: str, event: str, **detail: Any) -> None:
    """Move `subject` to `to_state` if it is in one of `allowed_from`, atomically, with an audit row.

    The conditional UPDATE makes a racing worker or a replayed task lose cleanly instead of
    applying the same change twice.
    """
    allowed = list(allowed_from)
    current = subject.state
    if current not in allowed:
        raise TransitionError(f"{subject.__tablename__} {subject.id}: {current.value} -> {to_state.value} not allowed")
    changed = session.connection().execute(_transition_statement(type(subject)), {
        "subject_id": subject.id, "allowed": allowed, "to_state": to_state}).rowcount
    if changed != 1:
        session.refresh(subject)
        raise TransitionError(f"{subject.__tablename__} {subject.id} changed under us (now {subject.state.value})")
    set_committed_value(subject, "state", to_state)
    record(session, actor=actor, subject=subject, event=event, from_state=current.value,
           to_state=to_state.value, **detail)


@functools.lru_cache(maxsize=None)
def _transition_statement(model):
    # One statement object per model, reused: building and hashing a new UPDATE per transition was most of
    # its cost. It goes to the connection; the subject's row is in the database already.
    table = model.__table__
    return (update(table).where(table.c.id == bindparam("subject_id"),
                                table.c.state.in_(bindparam("allowed", expanding=True, type_=table.c.state.type)))
            .values(state=bindparam("to_state", type_=table.c.state.type)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
