"""Reply tokens: random, expiring, lowercase hex (mail servers may fold case), issued to one person."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload

from workflow import clock
from workflow.models import Employee, ReplyToken, TokenPurpose

SHORT_LENGTH = 12


def new_token_text() -> str:
    """128 random bits as 32 lowercase hex characters."""
    return secrets.token_hex(16)


def new_token(purpose: TokenPurpose, *, days: int, one_time: bool = False, **links) -> ReplyToken:
    """A token not yet added to a session."""
    return ReplyToken(**token_values(purpose, days=days, one_time=one_time, **links))


def token_values(purpose: TokenPurpose, *, days: int, one_time: bool = False, **links) -> dict:
    """Every column of a new token but its id; `links` names its owner and subject (owner_id=, prompt_id=, ...)."""
    text, now = new_token_text(), clock.now()
    return dict(token=text, short_code=text[:SHORT_LENGTH], purpose=purpose, one_time=one_time,
                owner_id=None, owner_unit_id=None, prompt_id=None, entry_id=None, entry_version=None,
                followup_id=None, used_at=None, created_at=now, expires_at=now + timedelta(days=days)) | links


@dataclass(frozen=True)
class Issued:
    """A token written in bulk, as the emails that carry it need it."""

    id: int
    token: str
    short_code: str


def issue_many(session: Session, purpose: TokenPurpose, links: list[dict], *, days: int,
               one_time: bool = False) -> list[Issued]:
    """One token per item of `links`, in one multi-row INSERT; returned in the same order.

    Plain rows, not ORM objects: the prompt day issues one per employee, and a reply one for its sign-off;
    the unit of work cost more per token than the INSERT.
    """
    rows = [token_values(purpose, days=days, one_time=one_time, **item) for item in links]
    ids = session.connection().execute(_INSERT_RETURNING_ID, rows).scalars().all()
    return [Issued(token_id, row["token"], row["short_code"]) for token_id, row in zip(ids, rows, strict=True)]


_INSERT_RETURNING_ID = insert(ReplyToken.__table__).returning(ReplyToken.__table__.c.id, sort_by_parameter_order=True)


def issue(session: Session, purpose: TokenPurpose, *, days: int, one_time: bool = False, **links) -> ReplyToken:
    """Create a token for `purpose`, linked to its owner and subject (owner_id=, prompt_id=, entry_id=, ...).

    The short code (48 bits) is unique in the database; a collision is so rare that the constraint alone
    guards it: the transaction fails and the job that wanted the token runs again with a fresh one.
    """
    token = new_token(purpose, days=days, one_time=one_time, **links)
    session.add(token)
    session.flush()
    return token


def find(session: Session, text: str | None) -> ReplyToken | None:
    """The token with this full text, or None."""
    if not text:
        return None
    return session.scalar(_BY_TOKEN, {"text": text.lower()})


# What every reply through a token reads next (its owner, their supervisor and unit, the prompt), loaded
# with the token in one statement instead of four lazy loads.
WITH_OWNER = (joinedload(ReplyToken.owner).joinedload(Employee.supervisor),
              joinedload(ReplyToken.owner).joinedload(Employee.unit), joinedload(ReplyToken.prompt))
# Built once: the cache key of a statement with loader options took longer to compute than the query took to run.
_BY_TOKEN = select(ReplyToken).where(ReplyToken.token == bindparam("text")).options(*WITH_OWNER)
_BY_SHORT_CODE = select(ReplyToken).where(ReplyToken.short_code == bindparam("code")).options(*WITH_OWNER)


def find_by_short_code(session: Session, code: str | None) -> ReplyToken | None:
    """The token whose short code appears in a subject, or None."""
    if not code:
        return None
    return session.scalar(_BY_SHORT_CODE, {"code": code.lower()})


def unusable_reason(token: ReplyToken, now: datetime | None = None) -> str | None:
    """Why this token cannot be acted on now ('expired', 'used'), or None when it can."""
    now = now or clock.now()
    if token.expires_at <= now:
        return "expired"
    if token.one_time and token.used_at is not None:
        return "used"
    return None


def consume(session: Session, token: ReplyToken) -> bool:
    """Mark a one-time token used; False when another message used it first."""
    changed = session.execute(
        update(ReplyToken).where(ReplyToken.id == token.id, ReplyToken.used_at.is_(None))
        .values(used_at=clock.now()).execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        token.used_at = clock.now()
    return changed == 1
