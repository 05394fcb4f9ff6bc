"""Reply tokens: random, expiring, lowercase hex (mail servers may fold case), issued to one person."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflow import clock
from workflow.models import ReplyToken, TokenPurpose

SHORT_LENGTH = 12


def new_token_text() -> str:
    """128 random bits as 32 lowercase hex characters."""
    return secrets.token_hex(16)


def new_token(purpose: TokenPurpose, *, days: int, one_time: bool = False, **links) -> ReplyToken:
    """A token not yet added to a session (for creating many at once)."""
    text = new_token_text()
    return ReplyToken(token=text, short_code=text[:SHORT_LENGTH], purpose=purpose, one_time=one_time,
                      expires_at=clock.now() + timedelta(days=days), **links)


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
    return session.scalar(select(ReplyToken).where(ReplyToken.token == text.lower()))


def find_by_short_code(session: Session, code: str | None) -> ReplyToken | None:
    """The token whose short code appears in a subject, or None."""
    if not code:
        return None
    return session.scalar(select(ReplyToken).where(ReplyToken.short_code == code.lower()))


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
