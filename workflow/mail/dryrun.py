"""`cld mail parse`: read one raw message the way the inbound stages would, without a database or network.

Run as `python -m workflow.mail.dryrun PATH [--as KIND] [--period YYYY-MM]`; it prints JSON and never fails
on the message itself. Screening comes first, as in the inbound pipeline, so `--as` cannot turn an
auto-reply or a bounce into an entry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from email import utils

from workflow.mail.decisions import answer_kind, parse_decision, parse_followup_status, starts_with_answer
from workflow.mail.extract import header_text, parse_bytes, reply_text
from workflow.mail.forms import FieldError, labels_found, parse_entry_form, parse_needs
from workflow.mail.screen import classify_automatic
from workflow.mail.trim import trim_reply

KINDS = ("entry", "decision", "followup", "needs")
JAKARTA = dt.timezone(dt.timedelta(hours=7), "Asia/Jakarta")  # no daylight saving, so a fixed offset is exact

_NOT_UNDERSTOOD = FieldError(
    "reply",
    "Balasan tidak dikenali: tidak ada formulir, keputusan (SETUJU/REVISI) atau status (PROSES/SELESAI).",
    "The reply was not understood: it has no form, decision (APPROVE/REVISE) or status (IN PROGRESS/RESOLVED).",
)


def _result(kind: str, text: str = "", fields: dict | None = None, errors=(), warnings=()) -> dict:
    return {"kind": kind, "text": text, "fields": fields or {},
            "errors": [e.as_dict() for e in errors], "warnings": [w.as_dict() for w in warnings]}


def sent_on(msg) -> dt.date | None:
    """The day the message was sent, in Jakarta, from its Date header."""
    try:
        sent = utils.parsedate_to_datetime(header_text(msg, "Date"))
    except Exception:
        return None
    if sent is None:
        return None
    return (sent if sent.tzinfo else sent.replace(tzinfo=dt.timezone.utc)).astimezone(JAKARTA).date()


def guess_kind(top: str, full: str) -> str | None:
    """Which kind of reply this reads as, from its own text; None when it is none of them."""
    answer = answer_kind(top)
    if answer and starts_with_answer(top):
        return answer
    # Follow-up issues and next steps also appear in decisions, so they do not make a reply an entry.
    if labels_found(full) - {"needs", "followups", "next_steps"}:
        return "entry"
    if "needs" in labels_found(full):
        return "needs"
    return answer


def _parse(raw: bytes, as_kind: str | None, period: str | None, own_addresses) -> dict:
    msg = parse_bytes(raw)
    text = reply_text(msg)
    top = trim_reply(text, inline_form=False)
    screened = classify_automatic(msg, own_addresses)
    if screened:
        fields = {"screened_as": screened.kind, "reason": screened.reason,
                  "bounced_recipients": list(screened.bounced_recipients)}
        return _result("bounce" if screened.kind == "bounce" else "auto_reply", top, fields)
    if as_kind is not None and as_kind not in KINDS:
        return _result("unknown", top, errors=[FieldError(
            "kind", f"Jenis balasan tidak dikenal: {as_kind}.", f"Unknown reply kind: {as_kind}.")])
    full = trim_reply(text)
    kind = as_kind or guess_kind(top, full)
    today = sent_on(msg)
    period = period or (f"{today.year:04d}-{today.month:02d}" if today else None)
    if kind == "entry":
        form = parse_entry_form(full, period=period, today=today)
        return _result("entry", full, form.fields, form.errors, form.warnings)
    if kind == "decision":
        decision = parse_decision(top)
        fields = {"decision": decision.decision, "review": decision.review,
                  "followup_notes": decision.followup_notes, "followups": decision.followups,
                  "next_steps": decision.next_steps}
        return _result("decision", top, fields, decision.errors)
    if kind == "followup":
        status = parse_followup_status(top)
        fields = {"status": status.status, "note": status.note, "target_date": status.target_date}
        return _result("followup", top, fields, status.errors)
    if kind == "needs":
        needs = parse_needs(full)
        errors = [] if needs else [FieldError("needs", "Kebutuhan belum diisi.", "The needs are missing.")]
        return _result("needs", full, {"needs": needs}, errors)
    return _result("unknown", top, errors=[_NOT_UNDERSTOOD])


def _json_safe(value):
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def parse_message(raw: bytes, *, as_kind: str | None = None, period: str | None = None,
                  own_addresses=("cld@office.example",)) -> dict:
    """What the inbound stages would understand from `raw`, as JSON-ready data; never raises."""
    try:
        if period is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
            return _result("unknown", errors=[FieldError(
                "period", f"Periode harus berbentuk YYYY-MM, bukan {period!r}.",
                f"The period must look like YYYY-MM, not {period!r}.")])
        return _json_safe(_parse(raw, as_kind, period, tuple(own_addresses)))
    except Exception as error:  # the dry run reports every failure instead of raising it
        reason = f"{type(error).__name__}: {error}"[:300]
        return _json_safe(_result("unknown", errors=[FieldError(
            "message", f"Pesan tidak dapat dibaca ({reason}).", f"The message could not be read ({reason}).")]))


def main(argv: list[str] | None = None) -> int:
    """Print the dry-run parse of one .eml file as JSON."""
    parser = argparse.ArgumentParser(prog="cld mail parse", description=__doc__.split("\n")[0])
    parser.add_argument("path", help="an .eml file, or - for standard input")
    parser.add_argument("--as", dest="as_kind", choices=KINDS, help="parse as this kind instead of guessing")
    parser.add_argument("--period", help="the period YYYY-MM (default: the month of the Date header)")
    parser.add_argument("--own", action="append", help="our own address (repeatable)")
    args = parser.parse_args(argv)
    try:
        raw = sys.stdin.buffer.read() if args.path == "-" else open(args.path, "rb").read()
    except OSError as error:
        print(json.dumps(_result("unknown", errors=[FieldError(
            "path", f"Berkas tidak dapat dibuka: {error}", f"The file could not be opened: {error}")]),
            ensure_ascii=False, indent=2))
        return 1
    own = tuple(args.own) if args.own else ("cld@office.example",)
    result = parse_message(raw, as_kind=args.as_kind, period=args.period, own_addresses=own)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
