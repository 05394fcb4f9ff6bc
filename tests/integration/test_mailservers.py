"""The loopback mail servers behave like the real ones cld meets: Postfix in, Dovecot out."""

from __future__ import annotations

import os
import smtplib
import time
from email.message import EmailMessage

import pytest

from tests.support.mailservers import CleanMail, MailServers

pytestmark = pytest.mark.servers


def a_message(to: str, subject: str = "Monthly diary", sender: str = "ana@office.example",
              body: str = "Three things went well this month.\n") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{time.monotonic_ns()}@office.example>"
    message.set_content(body)
    return message


def test_a_message_sent_through_smtp_is_read_back_through_imap(clean_mail: CleanMail):
    ana = clean_mail.address("ana")
    clean_mail.deliver(a_message(ana, subject="Hello Ana"), to=ana)

    [message] = clean_mail.wait_for_messages(ana, 1)

    assert message.subject == "Hello Ana"
    assert message.text.strip() == "Three things went well this month."
    assert "\\Seen" not in message.flags  # reading did not mark it seen


def test_a_plus_token_subaddress_lands_in_the_base_mailbox_with_its_delivered_to(clean_mail: CleanMail):
    cld = clean_mail.address("cld")
    local, domain = cld.split("@")
    reply_address = f"{local}+Tk7QxZ2@{domain}"

    clean_mail.deliver(a_message(reply_address, subject="Re: your diary"), to=reply_address)

    [message] = clean_mail.wait_for_messages(cld, 1)
    assert message.headers["delivered-to"] == (reply_address,)
    assert clean_mail.folders(cld) == ["INBOX"]  # no "Tk7QxZ2" folder


def test_every_address_at_every_test_domain_exists_on_first_delivery(clean_mail: CleanMail):
    budi = clean_mail.address("budi", domain="example.test")
    sari = clean_mail.address("Sari")

    clean_mail.deliver(a_message(budi), to=[budi, sari.upper()])

    assert len(clean_mail.wait_for_messages(budi, 1)) == 1
    assert len(clean_mail.wait_for_messages(sari, 1)) == 1


def test_mail_for_any_other_domain_is_refused_so_nothing_leaves_the_machine(mail_servers: MailServers):
    with mail_servers.smtp() as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.sendmail("tester@example.test", ["someone@gmail.com"], b"Subject: no\r\n\r\nno\r\n")

    [(code, reason)] = refused.value.recipients.values()
    assert code == 554 and b"Relay access denied" in reason


def test_smtp_accepts_large_attachments_without_login(mail_servers: MailServers):
    with mail_servers.smtp() as smtp:
        smtp.ehlo()
        assert int(smtp.esmtp_features["size"]) >= 50 * 1024 * 1024
        assert "auth" not in smtp.esmtp_features


def test_each_test_gets_addresses_of_its_own(clean_mail: CleanMail, mailbox_factory):
    first, second = mailbox_factory("cld"), mailbox_factory("cld")

    assert first != second
    assert first.endswith("@office.example")
    assert clean_mail.read_messages(first) == []


def test_imap_folders_can_be_created_and_messages_moved(clean_mail: CleanMail):
    cld = clean_mail.address("cld")
    clean_mail.append(cld, a_message(cld, subject="to be filed"))

    with clean_mail.mailbox(cld) as mailbox:
        # The helper re-reads CAPABILITY after login: imaplib's pre-login list lacks MOVE, and
        # imap-tools would then fall back to COPY + \Deleted + EXPUNGE.
        assert "MOVE" in mailbox.client.capabilities
        mailbox.folder.create("CLD/Processed")
        mailbox.folder.set("INBOX")
        [uid] = [m.uid for m in mailbox.fetch(mark_seen=False)]
        [(_, how)] = mailbox.move(uid, "CLD/Processed")
        assert how == ("_MOVE",)

    assert set(clean_mail.folders(cld)) == {"INBOX", "CLD", "CLD/Processed"}
    assert clean_mail.read_messages(cld) == []
    [filed] = clean_mail.read_messages(cld, folder="CLD/Processed")
    assert filed.subject == "to be filed"


def test_append_seeds_a_folder_with_flags(clean_mail: CleanMail):
    cld = clean_mail.address("cld")

    written_with_bare_lfs = "Subject: seen before\nFrom: ana@office.example\n\nold\n"

    clean_mail.append(cld, written_with_bare_lfs, folder="CLD/Quarantine", flags=["\\Seen"])

    [message] = clean_mail.read_messages(cld, folder="CLD/Quarantine")
    assert message.subject == "seen before"
    assert "\\Seen" in message.flags
    assert message.size_rfc822 == len(written_with_bare_lfs.replace("\n", "\r\n"))


def test_idle_announces_new_mail(clean_mail: CleanMail):
    ana = clean_mail.address("ana")

    with clean_mail.mailbox(ana) as mailbox:
        mailbox.folder.set("INBOX")
        with mailbox.idle as idle:
            clean_mail.deliver(a_message(ana), to=ana)
            started = time.monotonic()
            responses = idle.poll(timeout=10)
            waited = time.monotonic() - started

    assert any(line.endswith(b"EXISTS") for line in responses), responses
    assert waited < 5


def test_a_removed_mailbox_comes_back_on_the_next_delivery(clean_mail: CleanMail):
    ana = clean_mail.address("ana")
    clean_mail.deliver(a_message(ana, subject="first"), to=ana)
    clean_mail.wait_for_messages(ana, 1)

    clean_mail.remove_mailboxes()
    clean_mail.deliver(a_message(ana, subject="second"), to=ana)

    assert [m.subject for m in clean_mail.wait_for_messages(ana, 1)] == ["second"]


def test_waiting_for_mail_that_never_comes_fails_with_the_server_log(clean_mail: CleanMail):
    ana = clean_mail.address("ana")

    with pytest.raises(AssertionError, match="expected 1 message"):
        clean_mail.wait_for_messages(ana, 1, timeout=0.2)


def test_the_faulty_smtp_server_relays_to_dovecot_when_ok(clean_mail: CleanMail, faulty_smtp):
    ana = clean_mail.address("ana")

    with smtplib.SMTP(faulty_smtp.host, faulty_smtp.port) as smtp:
        smtp.login("cld", "anything")
        smtp.send_message(a_message(ana, subject="via faulty"), to_addrs=[ana])

    assert [m.subject for m in clean_mail.wait_for_messages(ana, 1)] == ["via faulty"]
    assert faulty_smtp.accepted == 1
    assert faulty_smtp.messages[0].rcpt_tos == [ana]
    assert faulty_smtp.messages[0].login == "cld"


def test_the_faulty_smtp_server_answers_421_then_recovers(clean_mail: CleanMail, faulty_smtp):
    ana = clean_mail.address("ana")
    faulty_smtp.mode = "421"
    faulty_smtp.stage = "connect"

    with pytest.raises(smtplib.SMTPConnectError) as busy:
        smtplib.SMTP(faulty_smtp.host, faulty_smtp.port)
    assert busy.value.smtp_code == 421

    faulty_smtp.mode = "ok"
    with smtplib.SMTP(faulty_smtp.host, faulty_smtp.port) as smtp:
        smtp.send_message(a_message(ana), to_addrs=[ana])

    assert len(clean_mail.wait_for_messages(ana, 1)) == 1
    assert (faulty_smtp.accepted, faulty_smtp.rejected) == (1, 1)


@pytest.mark.parametrize(("mode", "code"), [("451", 451), ("550", 550)])
def test_the_faulty_smtp_server_refuses_recipients_with_the_chosen_code(clean_mail: CleanMail, faulty_smtp,
                                                                         mode, code):
    ana = clean_mail.address("ana")
    faulty_smtp.mode = mode

    with smtplib.SMTP(faulty_smtp.host, faulty_smtp.port) as smtp, \
            pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.send_message(a_message(ana), to_addrs=[ana])

    assert refused.value.recipients[ana][0] == code
    assert faulty_smtp.accepted == 0


def test_the_faulty_smtp_server_can_fail_after_the_message_was_sent(clean_mail: CleanMail, faulty_smtp):
    ana = clean_mail.address("ana")
    faulty_smtp.mode, faulty_smtp.stage = "451", "data"

    with smtplib.SMTP(faulty_smtp.host, faulty_smtp.port) as smtp, \
            pytest.raises(smtplib.SMTPDataError) as failed:
        smtp.send_message(a_message(ana), to_addrs=[ana])

    assert failed.value.smtp_code == 451
    assert clean_mail.read_messages(ana) == []


def test_the_faulty_smtp_server_refuses_connections_then_listens_again_on_its_port(clean_mail: CleanMail,
                                                                                    faulty_smtp):
    ana = clean_mail.address("ana")
    port = faulty_smtp.port
    faulty_smtp.mode = "refuse"

    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(faulty_smtp.host, port, timeout=2)

    faulty_smtp.mode = "ok"
    assert faulty_smtp.port == port
    with smtplib.SMTP(faulty_smtp.host, port) as smtp:
        smtp.send_message(a_message(ana), to_addrs=[ana])
    assert len(clean_mail.wait_for_messages(ana, 1)) == 1


@pytest.mark.slow
def test_throughput_is_measured_for_smtp_delivery_and_imap_append(clean_mail: CleanMail):
    """Prints rough rates with -s; asserts only a floor far below what the machine does."""
    count = int(os.environ.get("CLD_BENCH_MESSAGES", "200"))
    inbox, seeded = clean_mail.address("bench"), clean_mail.address("seeded")
    raw = a_message(inbox, body="x" * 3000).as_bytes()

    started = time.perf_counter()
    with clean_mail.smtp() as smtp:
        for _ in range(count):
            smtp.sendmail("tester@example.test", [inbox], raw)
    accepted = time.perf_counter() - started
    clean_mail.wait_for_messages(inbox, count, timeout=60)
    delivered = time.perf_counter() - started

    started = time.perf_counter()
    with clean_mail.mailbox(seeded) as mailbox:
        for _ in range(count):
            mailbox.append(raw, "INBOX")
    appended = time.perf_counter() - started

    started = time.perf_counter()
    assert len(clean_mail.read_messages(seeded)) == count
    fetched = time.perf_counter() - started

    print(f"\n{count} messages of {len(raw)} B: SMTP accept {count / accepted:.0f}/s, "
          f"SMTP to IMAP {count / delivered:.0f}/s, APPEND {count / appended:.0f}/s, "
          f"bulk FETCH {count / fetched:.0f}/s")
    assert count / delivered > 10
