"""Sign-off by reply: the request, the SETUJU / REVISI decision through the domain, signatures and their chain."""

from email.utils import parseaddr

import pytest
import typer
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.support.diary_rows import make_entry, person, reply_context, request_of, token_of
from tests.support.replies import GOOD_FORM, reply_to
from workflow import jobs, prompts, signoff
from workflow.cli_signoff import diary_app
from workflow.models import (Entry, EntryState, FollowUp, InboundMessage, InboundStatus, OutboundMessage, ReplyToken,
                             Signature, SignoffRequest, SignoffState, TokenPurpose)

REPLY_DAY = "2026-12-04T09:00+07:00"


@pytest.fixture(autouse=True)
def on_the_reply_day(clock_at):
    clock_at(REPLY_DAY)


@pytest.fixture
def dewi_entry(office, settings):
    """Dewi's December entry, waiting for Bambang (her direct supervisor) to sign it off."""
    return make_entry(office, settings, person(office, "dewi"))


def decide(session, settings, entry, body, *, html=False, sender=None, token=None):
    """Run a reply to the entry's sign-off request through apply_decision; returns the outcome, committed."""
    token = token or token_of(session, request_of(session, entry))
    ctx = reply_context(session, settings, token, sender or token.owner, body, html=html)
    outcome = signoff.apply_decision(ctx)
    session.commit()
    return outcome


def queued(session, kind):
    return session.scalars(select(OutboundMessage).where(OutboundMessage.kind == kind)
                           .order_by(OutboundMessage.id)).all()


SIGNED, REVISION, UNCLEAR = "signed", "revision_requested", "decision_unclear"
DECISIONS = [
    ("SETUJU", SIGNED), ("setuju", SIGNED), ("Setuju.", SIGNED), ("APPROVE", SIGNED), ("OK", SIGNED),
    ("Disetujui", SIGNED), ("Saya setuju", SIGNED), ("**SETUJU**", SIGNED),
    ("Approved, good session", SIGNED), ("Setuju - catatan lengkap", SIGNED),
    ("Setuju, tidak ada catatan", SIGNED),  # a negation in the review, not of the decision
    ("Approved. No further comments.", SIGNED),
    ("Yth. Pak Bambang,\n\nSetuju.\n\nReviu / Review: Sesi yang baik", SIGNED),
    ("<p>SETUJU</p><p>Reviu / Review: Mantap</p>", SIGNED),
    ("<div dir='ltr'><b>Approve</b></div>", SIGNED),
    ("REVISI\nTopik kurang jelas", REVISION), ("REVISE: please add the references", REVISION),
    ("Revisi, durasi salah", REVISION), ("REVISI\n\nAlasan / Reasons: jam tidak sesuai", REVISION),
    ("<div>REVISI</div><div>Tolong lengkapi tujuan pembelajaran</div>", REVISION),
    ("Tidak setuju", UNCLEAR), ("Tdk setuju", UNCLEAR), ("Belum setuju, nanti saya cek", UNCLEAR),
    ("Jangan disetujui dulu", UNCLEAR), ("Saya belum bisa menyetujui", UNCLEAR), ("Setuju tidak ya", UNCLEAR),
    ("Ok tidak", UNCLEAR), ("not approved", UNCLEAR), ("I don't approve", UNCLEAR), ("Not OK", UNCLEAR),
    ("No, not OK", UNCLEAR), ("Setuju?", UNCLEAR), ("setuju atau revisi ya?", UNCLEAR),
    ("approve or revise?", UNCLEAR), ("SETUJU tapi revisi bagian catatan", UNCLEAR),
    ("REVISI", UNCLEAR),  # no reasons: the employee would not know what to change
    ("", UNCLEAR), ("Terima kasih", UNCLEAR),
    ("Terima kasih.\n\n> SETUJU", UNCLEAR),  # the word is only in quoted text
    ("Baik pak\n\nOn Tue, 1 Dec 2026 at 08:00, CLD <cld@office.example> wrote:\n> Balas SETUJU untuk menyetujui",
     UNCLEAR),
    ("<p>Tidak setuju</p>", UNCLEAR),
    ("<p>Terima kasih</p><blockquote>SETUJU</blockquote>", UNCLEAR),
]


@pytest.mark.parametrize("body, expected", DECISIONS, ids=[f"{i:02d}" for i in range(len(DECISIONS))])
def test_a_decision_reply_signs_returns_or_asks_again_and_nothing_doubtful_ever_signs(office, settings, dewi_entry,
                                                                                       body, expected):
    request = request_of(office, dewi_entry)
    outcome = decide(office, settings, dewi_entry, body, html=body.startswith("<"))
    office.expire_all()
    entry, token = office.get(Entry, dewi_entry.id), token_of(office, request)
    assert outcome.kind == expected
    signatures = office.scalar(select(func.count()).select_from(Signature))
    if expected == SIGNED:
        assert outcome.status == InboundStatus.PROCESSED and entry.state == EntryState.SIGNED
        assert request.state == SignoffState.APPROVED and token.used_at is not None and signatures == 1
    elif expected == REVISION:
        assert outcome.status == InboundStatus.PROCESSED and entry.state == EntryState.REVISION_REQUESTED
        assert request.state == SignoffState.REVISION and token.used_at is not None and signatures == 0
        assert request.decision_note
    else:
        assert outcome.status == InboundStatus.ANSWERED and entry.state == EntryState.AWAITING_SIGNOFF
        assert request.state == SignoffState.PENDING and token.used_at is None and signatures == 0
        [asked] = queued(office, "decision_unclear")
        assert token.token in asked.raw.decode()  # the answer carries the same reply address: just reply again


def test_the_request_goes_to_the_direct_supervisor_with_a_one_time_token_and_the_entry_in_full(office, settings,
                                                                                                dewi_entry):
    bambang = person(office, "bambang")
    request = request_of(office, dewi_entry)
    token = token_of(office, request)
    assert (request.signer_id, dewi_entry.signer_id, request.state) == (bambang.id, bambang.id, SignoffState.PENDING)
    assert token.purpose == TokenPurpose.SIGNOFF and token.one_time and token.owner_id == bambang.id
    assert (token.entry_id, token.entry_version) == (dewi_entry.id, 1)
    [message] = queued(office, "signoff_request")
    assert message.recipients == [bambang.email] and message.dedupe_key == f"signoff:{dewi_entry.id}:1"
    raw = message.raw.decode()
    assert f"Reply-To: cld+{token.token}@office.example" in raw
    assert f"[CLD-{token.short_code}]" in message.subject
    from workflow.mail import extract

    parsed = extract.parse_bytes(message.raw)
    body = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = parsed.get_body(("html",)).get_content()
    for part in ("Penyusunan nilai limit lelang", "Membahas tiga kasus lelang eksekusi", "PMK 213/PMK.06/2020",
                 signoff.rating_text("very_useful"), "Sangat bermanfaat / Very useful", "Mendampingi satu lelang", "09.00–10.00",
                 f"Kode balasan / Reply code: {token.token}", "SETUJU", "REVISI", "Reviu / Review:"):
        assert part in body
    assert f"mailto:cld+{token.token}@office.example?subject=" in html and "body=SETUJU" in html
    assert "body=REVISI" in html and "http://" not in html and "https://" not in html


def test_a_mentor_who_is_another_superior_is_told_and_the_direct_supervisor_still_signs(office, settings):
    kevin, made, ratna = person(office, "kevin"), person(office, "made"), person(office, "ratna")
    entry = make_entry(office, settings, kevin, mentor_id=ratna.id, mentor_name=ratna.name)
    assert request_of(office, entry).signer_id == made.id
    [informed] = queued(office, "mentor_informed")
    assert informed.recipients == [ratna.email]


def test_with_mentor_signs_the_mentor_signs_and_the_supervisor_is_told(office, settings):
    kevin, made, ratna = person(office, "kevin"), person(office, "made"), person(office, "ratna")
    entry = make_entry(office, settings.model_copy(update={"mentor_signs": True}), kevin, mentor_id=ratna.id,
                       mentor_name=ratna.name)
    assert request_of(office, entry).signer_id == ratna.id
    assert queued(office, "mentor_informed")[0].recipients == [made.email]


def test_an_approval_stores_the_review_signs_the_entry_opens_the_issues_and_tells_the_employee(office, settings,
                                                                                                dewi_entry):
    body = ("SETUJU\n\nReviu / Review: Sesi yang sangat baik.\nCatatan tindak lanjut / Follow-up notes: Pantau "
            "jadwal lelang.\nIsu tindak lanjut / Follow-up issues:\n- Printer ruang rapat rusak [Unit: Umum]\n"
            "- Akses aplikasi lelang [Unit: Seksi Lelang]\nRencana selanjutnya / Next steps: Ikut satu lelang")
    decide(office, settings, dewi_entry, body)
    office.expire_all()
    entry = office.get(Entry, dewi_entry.id)
    assert entry.review == "Sesi yang sangat baik." and entry.followup_notes == "Pantau jadwal lelang."
    assert entry.reviewer_next_steps == "Ikut satu lelang"
    issues = office.scalars(select(FollowUp).order_by(FollowUp.id)).all()
    assert [(i.unit.name, i.source, i.raised_by_id) for i in issues] == [
        ("Subbagian Umum", "review", person(office, "bambang").id),
        ("Seksi Pelayanan Lelang", "review", person(office, "bambang").id)]
    [told] = queued(office, "signoff_approved")
    assert told.recipients == [person(office, "dewi").email] and "Printer ruang rapat rusak" in told.raw.decode()
    signature = office.scalar(select(Signature))
    stored = office.scalar(select(InboundMessage).where(InboundMessage.id == office.scalar(
        select(SignoffRequest.decision_message_id))))
    assert signature.message_id == stored.message_id and signature.auth_verdict.startswith("from=")
    assert signature.content_hash == signoff.content_hash(entry)
    assert signature.previous_hash == "0" * 64
    assert signature.chain_hash == signoff.chain(signature.previous_hash, signature.content_hash)


def test_each_signature_chains_onto_the_employees_previous_one(office, settings):
    dewi = person(office, "dewi")
    first, second = make_entry(office, settings, dewi), make_entry(office, settings, dewi, topic="Laporan penilaian")
    decide(office, settings, first, "SETUJU")
    decide(office, settings, second, "SETUJU")
    one, two = office.scalars(select(Signature).order_by(Signature.id)).all()
    assert two.previous_hash == one.chain_hash
    assert signoff.verify_chain(office, dewi) == []


def test_verify_names_an_entry_edited_in_the_database_after_signing(office, settings, dewi_entry):
    decide(office, settings, dewi_entry, "SETUJU")
    office.execute(text("UPDATE entries SET rating = 'ordinary' WHERE id = :id"), {"id": dewi_entry.id})
    office.commit()
    office.expire_all()
    [problem] = signoff.verify_chain(office, person(office, "dewi"))
    assert f"entry #{dewi_entry.id} of 2026-12-03 (Penyusunan nilai limit lelang): changed after it was signed" \
        == problem


def test_verify_notices_a_removed_signature_in_the_middle_of_the_chain(office, settings):
    dewi = person(office, "dewi")
    entries = [make_entry(office, settings, dewi, topic=f"Topik {n}") for n in range(3)]
    for entry in entries:
        decide(office, settings, entry, "SETUJU")
    office.execute(text("DELETE FROM signatures WHERE entry_id = :id"), {"id": entries[1].id})
    office.commit()
    problems = signoff.verify_chain(office, dewi)
    assert any("chain is broken" in p and "Topik 2" in p for p in problems)
    assert any("marked signed but has no signature" in p and "Topik 1" in p for p in problems)


def test_cld_diary_verify_exits_1_and_names_the_entry_edited_after_signing(office, settings, dewi_entry):
    app = typer.Typer()
    app.add_typer(diary_app, name="diary")
    runner = CliRunner()
    decide(office, settings, dewi_entry, "SETUJU")
    intact = runner.invoke(app, ["diary", "verify", person(office, "dewi").nip])
    assert intact.exit_code == 0 and "1 signature(s), chain intact" in intact.output
    office.execute(text("UPDATE entries SET notes = 'ditulis ulang' WHERE id = :id"), {"id": dewi_entry.id})
    office.commit()
    broken = runner.invoke(app, ["diary", "verify", person(office, "dewi").nip])
    assert broken.exit_code == 1
    assert f"entry #{dewi_entry.id} of 2026-12-03 (Penyusunan nilai limit lelang): changed after it was signed" \
        in broken.output


def test_revisi_returns_the_entry_with_the_reasons_and_a_form_refilled_bound_to_the_entry(office, settings,
                                                                                          dewi_entry):
    decide(office, settings, dewi_entry, "REVISI\nDurasi tidak sesuai dengan jam sesi.")
    [returned] = queued(office, "revision_request")
    dewi = person(office, "dewi")
    token = office.get(ReplyToken, returned.token_id)
    assert returned.recipients == [dewi.email]
    assert (token.purpose, token.owner_id, token.entry_id, token.prompt_id) == (
        TokenPurpose.PROMPT, dewi.id, dewi_entry.id, dewi_entry.prompt_id)
    raw = returned.raw.decode()
    from workflow.mail import extract

    body = extract.parse_bytes(returned.raw).get_body(("plain",)).get_content()
    assert "Durasi tidak sesuai dengan jam sesi." in body and "Topik / Topic: Penyusunan nilai limit lelang" in body
    assert f"cld+{token.token}@office.example" in raw


def test_a_resubmitted_entry_supersedes_the_old_request_and_a_decision_on_the_old_version_is_refused(
        office, settings, dewi_entry):
    old = request_of(office, dewi_entry)
    old_token = token_of(office, old)
    # What diary does with the corrected form: a new version, back to awaiting sign-off, a new request.
    dewi_entry.version, dewi_entry.topic = 2, "Penyusunan nilai limit (diperbaiki)"
    office.flush()
    new = signoff.request_signoff(office, settings, dewi_entry)
    office.commit()
    assert old.state == SignoffState.SUPERSEDED and new.state == SignoffState.PENDING and new.entry_version == 2
    outcome = decide(office, settings, dewi_entry, "SETUJU", token=old_token)
    assert (outcome.status, outcome.kind) == (InboundStatus.ANSWERED, "decision_old_version")
    assert office.get(Entry, dewi_entry.id).state == EntryState.AWAITING_SIGNOFF and old_token.used_at is None
    [refused] = queued(office, "decision_refused")
    assert "versi lama" in refused.raw.decode() or "older version" in refused.raw.decode()


def test_when_two_people_may_decide_the_first_decision_counts_and_the_second_hears_who_decided(office, settings,
                                                                                                dewi_entry):
    hendra = person(office, "hendra")
    request = request_of(office, dewi_entry)
    # An escalation gave Hendra his own token for the same version.
    hendra_token = signoff._issue(office, settings, hendra, dewi_entry)
    office.commit()
    decide(office, settings, dewi_entry, "SETUJU")
    second = decide(office, settings, dewi_entry, "REVISI\nKurang lengkap", token=hendra_token)
    assert (second.status, second.kind) == (InboundStatus.ANSWERED, "already_decided")
    assert request.state == SignoffState.APPROVED and hendra_token.used_at is None
    [answered] = queued(office, "already_decided")
    assert "Bambang Hermawan" in answered.raw.decode() and "4 Desember 2026" in answered.raw.decode()
    assert signoff.already_decided_context(office, token_of(office, request), settings)["decided_by_name"] \
        == person(office, "bambang").name


def test_an_expired_sign_off_token_renews_the_request_while_it_is_still_pending(office, settings, dewi_entry,
                                                                                clock_at):
    clock_at("2027-01-25T09:00+07:00")
    token = token_of(office, request_of(office, dewi_entry))
    ctx = reply_context(office, settings, token, token.owner, "SETUJU")
    outcome = signoff.answer_unusable(ctx, "expired")
    office.commit()
    assert outcome.kind == "decision_expired" and office.get(Entry, dewi_entry.id).state == EntryState.AWAITING_SIGNOFF
    renewed = [m for m in queued(office, "signoff_request") if m.dedupe_key.startswith("signoff-renewed:")]
    assert len(renewed) == 1 and renewed[0].token_id != token.id


# End to end, across the real Postfix and Dovecot, through the inbox poll.

def wait_for(clean_mail, address, *words, count=1, timeout=10):
    """The messages at `address` whose subject holds all `words`, once `count` of them arrived."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in clean_mail.read_messages(address) if all(w in m.subject for w in words)]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"{address}: {count} x {words} expected, got {[m.subject for m in found]}"
            return found
        time.sleep(0.1)


def send_reply(clean_mail, to_message, sender, body, settings):
    """Reply by SMTP to `to_message`'s Reply-To from `sender`, then wait until it reached the service mailbox."""
    before = len(clean_mail.read_messages(settings.reply_address))
    clean_mail.deliver(reply_to(to_message, sender, body), parseaddr(to_message.headers["reply-to"][0])[1],
                       sender=sender)
    clean_mail.wait_for_messages(settings.reply_address, before + 1)


def poll():
    report = jobs.poll_inbox()
    jobs.flush_outbox()
    return report["statuses"]


@pytest.fixture
def dewi_recorded(mail_office, mail_settings, clean_mail, clock_at):
    """Dewi was prompted, replied with the form, and Bambang received the sign-off request."""
    clock_at("2026-12-01T08:00+07:00")
    dewi = person(mail_office, "dewi")
    prompts.create_prompt(mail_office, mail_settings, "2026-12", dewi.id)
    jobs.flush_outbox()
    clock_at(REPLY_DAY)
    [prompt] = clean_mail.wait_for_messages(dewi.email, 1)
    send_reply(clean_mail, prompt, dewi.email, GOOD_FORM, mail_settings)
    assert poll() == {"processed": 1}
    [request] = wait_for(clean_mail, person(mail_office, "bambang").email, "Mohon persetujuan")
    return mail_office.scalar(select(Entry)), request


@pytest.mark.servers
def test_a_supervisor_signs_off_by_replying_setuju_and_the_employee_is_told(mail_office, mail_settings, clean_mail,
                                                                           dewi_recorded):
    entry, request = dewi_recorded
    bambang, dewi = person(mail_office, "bambang"), person(mail_office, "dewi")
    assert "Penyusunan nilai limit lelang" in request.text and "Sangat bermanfaat" in request.text
    send_reply(clean_mail, request, bambang.email, "SETUJU\n\nReviu / Review: Sesi yang baik, lanjutkan.",
               mail_settings)
    assert poll() == {"processed": 1}
    mail_office.expire_all()
    assert mail_office.get(Entry, entry.id).state == EntryState.SIGNED
    assert mail_office.get(Entry, entry.id).review == "Sesi yang baik, lanjutkan."
    [told] = wait_for(clean_mail, dewi.email, "Disetujui")
    assert "Bambang Hermawan" in told.text and "Sesi yang baik, lanjutkan." in told.text
    assert signoff.verify_chain(mail_office, dewi) == []


@pytest.mark.servers
def test_revisi_sends_the_reasons_and_the_corrected_reply_is_requested_again_and_signed(mail_office, mail_settings,
                                                                                       clean_mail, dewi_recorded):
    entry, request = dewi_recorded
    bambang, dewi = person(mail_office, "bambang"), person(mail_office, "dewi")
    send_reply(clean_mail, request, bambang.email, "REVISI\nMohon tambahkan tujuan yang lebih spesifik.",
               mail_settings)
    assert poll() == {"processed": 1}
    [returned] = wait_for(clean_mail, dewi.email, "Perlu perbaikan")
    assert "Mohon tambahkan tujuan yang lebih spesifik." in returned.text
    corrected = GOOD_FORM.replace("Memahami dasar penetapan nilai limit",
                                  "Mampu menghitung nilai limit untuk lelang eksekusi hak tanggungan")
    send_reply(clean_mail, returned, dewi.email, corrected, mail_settings)
    assert poll() == {"processed": 1}
    mail_office.expire_all()
    assert mail_office.get(Entry, entry.id).version == 2
    [second] = wait_for(clean_mail, bambang.email, "Mohon persetujuan", count=2)[1:]
    assert "versi perbaikan ke-2" in second.text and "hak tanggungan" in second.text
    send_reply(clean_mail, second, bambang.email, "Setuju", mail_settings)
    assert poll() == {"processed": 1}
    mail_office.expire_all()
    signed = mail_office.get(Entry, entry.id)
    assert (signed.state, signed.version) == (EntryState.SIGNED, 2)
    assert mail_office.scalar(select(Signature.entry_version)) == 2


@pytest.mark.servers
def test_a_second_setuju_on_the_same_request_is_told_it_was_already_decided(mail_office, mail_settings, clean_mail,
                                                                           dewi_recorded):
    entry, request = dewi_recorded
    bambang = person(mail_office, "bambang")
    send_reply(clean_mail, request, bambang.email, "SETUJU", mail_settings)
    assert poll() == {"processed": 1}
    send_reply(clean_mail, request, bambang.email, "SETUJU\nReviu / Review: sekali lagi", mail_settings)
    assert poll() == {"answered": 1}
    [answer] = wait_for(clean_mail, bambang.email, "Sudah diputuskan")
    assert "Bambang Hermawan" in answer.text and "4 Desember 2026" in answer.text
    mail_office.expire_all()
    assert mail_office.get(Entry, entry.id).review == ""
    assert mail_office.scalar(select(func.count()).select_from(Signature)) == 1


@pytest.mark.servers
def test_a_decision_from_another_address_is_refused_and_changes_nothing(mail_office, mail_settings, clean_mail,
                                                                       dewi_recorded):
    entry, request = dewi_recorded
    rizky = person(mail_office, "rizky")
    send_reply(clean_mail, request, rizky.email, "SETUJU", mail_settings)
    assert poll() == {"refused": 1}
    mail_office.expire_all()
    assert mail_office.get(Entry, entry.id).state == EntryState.AWAITING_SIGNOFF
    pending = request_of(mail_office, entry)
    assert pending.state == SignoffState.PENDING and token_of(mail_office, pending).used_at is None
    assert mail_office.scalar(select(func.count()).select_from(Signature)) == 0


@pytest.mark.servers
def test_a_replayed_message_or_an_expired_token_is_refused_and_changes_nothing(mail_office, mail_settings, clean_mail,
                                                                              dewi_recorded, clock_at):
    entry, request = dewi_recorded
    bambang = person(mail_office, "bambang")
    clock_at("2027-01-25T09:00+07:00")  # 45 days later: the decision token has expired
    send_reply(clean_mail, request, bambang.email, "SETUJU", mail_settings)
    assert poll() == {"answered": 1}
    mail_office.expire_all()
    assert mail_office.get(Entry, entry.id).state == EntryState.AWAITING_SIGNOFF
    clock_at(REPLY_DAY)
    reply = reply_to(request, bambang.email, "SETUJU")
    address = parseaddr(request.headers["reply-to"][0])[1]
    for _ in range(2):  # the very same message, delivered twice: applied once
        clean_mail.deliver(reply, address, sender=bambang.email)
    clean_mail.wait_for_messages(mail_settings.reply_address, 2)
    assert poll() == {"processed": 1, "ignored": 1}
    mail_office.expire_all()
    assert mail_office.scalar(select(func.count()).select_from(Signature)) == 1
    assert mail_office.scalar(select(func.count()).select_from(SignoffRequest)
                              .where(SignoffRequest.state == SignoffState.APPROVED)) == 1
