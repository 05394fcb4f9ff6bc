"""Answers to people who wrote to us: templated, in reply to their message, and rate-limited per address."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from workflow import clock, outbox
from workflow.mail.outbound import Attachment, Envelope, build_message, render
from workflow.models import Employee, InboundMessage, OutboundMessage
from workflow.settings import Settings

log = logging.getLogger(__name__)


# Built once: asked for every answer, and a fresh select() per call cost more Python than the query.
_ANSWERS_SINCE = (select(func.count()).select_from(OutboundMessage)
                  .join(InboundMessage, OutboundMessage.in_reply_to_inbound_id == InboundMessage.id)
                  .where(InboundMessage.from_address == bindparam("address"),
                         OutboundMessage.created_at >= bindparam("since", type_=OutboundMessage.created_at.type)))


def answers_today(session: Session, address: str) -> int:
    """How many answers went to `address` in the last 24 hours (counted from the messages answered)."""
    return session.scalar(_ANSWERS_SINCE, {"address": address.lower(), "since": clock.now() - timedelta(days=1)})


def answer(session: Session, settings: Settings, inbound: InboundMessage, kind: str, context: dict, *,
           to: str | None = None, lang: str = "id", name: str = "", reply_to: str | None = None,
           attachments: list[Attachment] | None = None, dedupe: str | None = None) -> OutboundMessage | None:
    """Queue email `kind` as an answer to `inbound`; None when the sender's daily limit is reached."""
    address = (to or inbound.from_address).lower()
    if address == inbound.from_address and answers_today(session, address) >= settings.answers_per_address_per_day:
        log.warning("inbound %s: answer limit reached for this sender; %s not sent", inbound.id, kind)
        return None
    rendered = render(kind, lang, {"office_name": settings.office_name, **context})
    references = [inbound.message_id] if inbound.message_id else []
    envelope = Envelope(to=[address], to_name=name, subject=rendered.subject, reply_to=reply_to,
                        in_reply_to=inbound.message_id if address == inbound.from_address else None,
                        references=[] if address != inbound.from_address else references[:-1])
    message = build_message(settings, envelope, rendered, attachments)
    return outbox.enqueue(session, message, kind=kind, in_reply_to_inbound_id=inbound.id,
                          dedupe_key=dedupe or f"answer:{inbound.id}:{kind}:{address}")


def notify(session: Session, settings: Settings, person: Employee, kind: str, context: dict, *,
           dedupe: str, reply_to: str | None = None, token_id: int | None = None,
           attachments: list[Attachment] | None = None) -> OutboundMessage:
    """Queue email `kind` to `person` in their language, once per `dedupe` key."""
    rendered = render(kind, person.language.value, {"office_name": settings.office_name, **context})
    envelope = Envelope(to=[person.email], to_name=person.name, subject=rendered.subject, reply_to=reply_to)
    message = build_message(settings, envelope, rendered, attachments)
    return outbox.enqueue(session, message, kind=kind, dedupe_key=dedupe, employee_id=person.id, token_id=token_id)


def notify_address(session: Session, settings: Settings, address: str, kind: str, context: dict, *,
                   dedupe: str, lang: str = "id", reply_to: str | None = None, token_id: int | None = None,
                   name: str = "") -> OutboundMessage:
    """Queue email `kind` to a mailbox that is not a person (a unit's), once per `dedupe` key."""
    rendered = render(kind, lang, {"office_name": settings.office_name, **context})
    envelope = Envelope(to=[address], to_name=name, subject=rendered.subject, reply_to=reply_to)
    message = build_message(settings, envelope, rendered)
    return outbox.enqueue(session, message, kind=kind, dedupe_key=dedupe, token_id=token_id)
