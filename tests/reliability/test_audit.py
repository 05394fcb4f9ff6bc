"""`cld audit ENTRY_ID` traces a disputed approval to the exact email, and shows every event around it."""

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from tests.reliability.support import good_form, prompt_everyone, prompt_token, reply
from tests.reliability.test_forgery import decision
from tests.support.diary_rows import person
from workflow.audit_view import audit_command, entry_trail
from workflow.models import (
    Entry,
    InboundMessage,
    OutboundMessage,
    ReplyToken,
    Signature,
    SignoffRequest,
)


def test_the_audit_of_an_entry_shows_every_event_and_the_message_ids_behind_a_signature(office, settings, feed):
    prompt_everyone(office, settings)
    office.commit()
    dewi, bambang, made = person(office, "dewi"), person(office, "bambang"), person(office, "made")
    entry_mail = reply(settings, dewi, prompt_token(office, dewi), good_form(settings))
    assert feed(entry_mail).kind == "entry"
    entry = office.scalar(select(Entry))
    token = office.get(ReplyToken, office.scalar(select(SignoffRequest.token_id)))
    forged = decision(settings, made, token, "SETUJU")
    assert feed(forged).kind == "foreign_sender"
    approval = decision(settings, bambang, token, "SETUJU\nReviu / Review: bagus")
    assert feed(approval).kind == "signed"
    office.expire_all()
    signature = office.scalar(select(Signature))
    assert signature.message_id == approval["Message-ID"]

    lines = entry_trail(office, entry.id)
    text = "\n".join(line.text for line in lines)
    for expected in ("entry.recorded", "prompt.answered", "signoff.requested", "signoff.approved", "entry.signed",
                     "signature.created", "followup.opened", "inbound.refused",
                     f"Message-ID {entry_mail['Message-ID']}", f"Message-ID {approval['Message-ID']}",
                     f"Message-ID {forged['Message-ID']}", f"from Message-ID {approval['Message-ID']}",
                     "matches the entry now", "refused/foreign_sender", f"from {made.email}"):
        assert expected in text, expected
    for message in office.scalars(select(OutboundMessage)).all():
        if message.kind in ("receipt", "signoff_request", "signoff_approved", "followup_notice", "foreign_sender"):
            assert message.message_id in text, message.kind
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    assert not [t.token for t in office.scalars(select(ReplyToken)) if t.token in text]  # tokens stay secret
    # Another person's entry is not mixed in.
    assert all(m.entry_id in (None, entry.id) for m in office.scalars(select(InboundMessage)))

    app = typer.Typer()
    app.command()(audit_command)
    result = CliRunner().invoke(app, [str(entry.id)])
    assert result.exit_code == 0 and f"entry #{entry.id} v1 signed" in result.output
    assert approval["Message-ID"] in result.output and "+0700" in result.output
    missing = CliRunner().invoke(app, ["99999"])
    assert missing.exit_code == 1 and "no entry 99999" in missing.output
