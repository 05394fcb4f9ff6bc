"""Recognise mail no person wrote: auto-replies, bounces, mailing lists and our own messages.

Such mail never gets an answer. `X-Auto-Response-Suppress` alone proves nothing: our own outgoing mail
and ordinary Outlook replies both carry it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message

from workflow.mail.extract import addresses, header_text

_OUT_OF_OFFICE = re.compile(
    r"\b(?:balasan otomatis|di luar kantor|sedang cuti|tidak di kantor|automatic reply|auto[- ]?reply|"
    r"autoreply|auto[- ]?response|out of (?:the )?office|abwesenheitsnotiz)\b",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)
_NOREPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|noreply-[^@]*|bounces?(?:[+-][^@]*)?)@",
                      re.IGNORECASE)
_RECIPIENT = re.compile(r"^[ \t]*(?:original|final)-recipient[ \t]*:\s*(?:rfc822\s*;)?\s*<?([^\s<>;]+@[^\s<>;]+)>?",
                        re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Screened:
    """Why a message is automatic; for bounces, whom the failed delivery was for."""

    kind: str  # 'auto_reply' | 'bounce' | 'own' | 'list'
    reason: str
    bounced_recipients: list[str] = field(default_factory=list)


def _base(address: str) -> str:
    """'cld+abc@Office.Example' -> 'cld@office.example'."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _delivery_reports(msg: Message) -> tuple[list[str], list[str]]:
    """(recipients, actions) from every message/delivery-status part."""
    recipients: list[str] = []
    actions: list[str] = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        texts = [str(block) for block in blocks] or [payload if isinstance(payload, str) else ""]
        for text in texts:
            actions += [a.lower() for a in re.findall(r"^[ \t]*action[ \t]*:[ \t]*(\S+)", text, re.I | re.M)]
            found = {}
            for match in _RECIPIENT.finditer(text):
                kind = "original" if match[0].strip().lower().startswith("original") else "final"
                found.setdefault(kind, match[1].lower())
            address = found.get("original") or found.get("final")
            if address and address not in recipients:
                recipients.append(address)
    return recipients, actions


def _bounce(msg: Message, sender: str) -> Screened | None:
    is_report = msg.get_content_type() == "multipart/report"
    report_type = (msg.get_param("report-type") or "").lower() if is_report else ""
    if is_report and report_type == "disposition-notification":
        return Screened("auto_reply", "read receipt (multipart/report; report-type=disposition-notification)")
    recipients, actions = _delivery_reports(msg)
    failed_header = [a for a in addresses(msg, "X-Failed-Recipients") if a not in recipients]
    recipients += failed_header
    if (is_report and report_type == "delivery-status") or recipients or actions:
        if actions and all(a in {"delayed", "delivered", "relayed", "expanded"} for a in actions):
            return Screened("auto_reply", f"delivery status notification ({', '.join(sorted(set(actions)))})")
        return Screened("bounce", "delivery status notification", recipients)
    if _DAEMON.match(sender):
        return Screened("bounce", f"sent by {sender.split('@')[0]}", recipients)
    return None


def _automatic(msg: Message, sender: str) -> Screened | None:
    auto_submitted = header_text(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return Screened("auto_reply", f"Auto-Submitted: {auto_submitted}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-MS-Exchange-Inbox-Rules-Loop"):
        if header_text(msg, name).strip():
            return Screened("auto_reply", f"{name} header")
    precedence = header_text(msg, "Precedence").strip().lower()
    if precedence == "auto_reply":
        return Screened("auto_reply", "Precedence: auto_reply")
    if precedence in {"bulk", "junk", "list"}:
        return Screened("list", f"Precedence: {precedence}")
    if header_text(msg, "List-Id").strip() or header_text(msg, "List-Unsubscribe").strip():
        return Screened("list", "mailing list headers")
    if _NOREPLY.match(sender):
        return Screened("auto_reply", f"sent from {sender.split('@')[0]}")
    subject = header_text(msg, "Subject")
    if _OUT_OF_OFFICE.search(subject):
        return Screened("auto_reply", "out-of-office subject")
    return None


def classify_automatic(msg: Message, own_addresses: Iterable[str]) -> Screened | None:
    """How a message is automatic (bounce, auto-reply, list, our own), or None when a person wrote it."""
    senders = addresses(msg, "From") or addresses(msg, "Sender")
    sender = senders[0] if senders else ""
    if sender and _base(sender) in {_base(a) for a in own_addresses}:
        return Screened("own", f"sent from our own address {_base(sender)}")
    return _bounce(msg, sender) or _automatic(msg, sender)
