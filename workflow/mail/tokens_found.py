"""Where a reply says which request it answers: the reply address, the subject code, the body footer,
and the Message-IDs it refers to. Finding is all this does; looking tokens up is `workflow.tokens`."""

from __future__ import annotations

import re
from email.message import Message

from workflow.mail.extract import address_header_texts, header_texts

TOKEN_LENGTH = 32
SHORT_CODE_LENGTH = 12
ADDRESS_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")

_SHORT_CODE = re.compile(rf"\[\s*CLD\s*-\s*([0-9a-f]{{{SHORT_CODE_LENGTH}}})\s*\]", re.IGNORECASE)
_FOOTER = re.compile(
    rf"^[> \t]*(?:kode balasan|reply code)(?:\s*/\s*(?:kode balasan|reply code))?\s*[:：]\s*"
    rf"([0-9a-f]{{{TOKEN_LENGTH}}})(?![0-9a-f])",
    re.IGNORECASE | re.MULTILINE,
)
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def token_from_addresses(msg: Message, local_part: str = "cld") -> str | None:
    """The token in a 'cld+TOKEN@domain' recipient (To, Cc, Delivered-To, X-Original-To, Envelope-To)."""
    pattern = re.compile(
        rf"(?<![\w.+-]){re.escape(local_part)}\+([0-9a-f]{{{TOKEN_LENGTH}}})@", re.IGNORECASE)
    for name in ADDRESS_HEADERS:
        for value in address_header_texts(msg, name):
            found = pattern.search(value)
            if found:
                return found[1].lower()
    return None


def message_ids_referenced(msg: Message) -> list[str]:
    """Message-IDs this reply refers to, without angle brackets: In-Reply-To first, then References newest first."""
    ids: list[str] = []
    in_reply_to = " ".join(header_texts(msg, "In-Reply-To"))
    references = " ".join(header_texts(msg, "References"))
    for value, newest_first in ((in_reply_to, False), (references, True)):
        found = _MESSAGE_ID.findall(value) or value.split()
        for message_id in reversed(found) if newest_first else found:
            if message_id not in ids:
                ids.append(message_id)
    return ids


def short_code_from_subject(subject: str | None) -> str | None:
    """The 12 hex characters of '[CLD-XXXXXXXXXXXX]' in a subject, lowercased."""
    found = _SHORT_CODE.search(subject or "")
    return found[1].lower() if found else None


def token_from_body(text: str | None) -> str | None:
    """The full token from the footer 'Kode balasan / Reply code: TOKEN', quoted or not."""
    found = _FOOTER.search(text or "")
    return found[1].lower() if found else None
