"""The local mail sandbox, driven by the clients the service itself uses: smtplib and imap-tools."""

from __future__ import annotations

import datetime
import smtplib
import socket
import threading
import time
from email.message import EmailMessage

import pytest
from imap_tools import AND, NOT, OR, A, MailBoxUnencrypted, MailMessageFlags, U

from workflow.sandbox import MailSandbox, MailStore

SERVICE = "cld@office.example"
REPLY_ADDRESS = "cld+0123abcd@office.example"
EMPLOYEE = "sari.wulandari@office.example"
SUPERVISOR = "budi.santoso@office.example"


@pytest.fixture
def sandbox(tmp_path):
    with MailSandbox(tmp_path / "mail") as running:
        yield running


def send(sandbox: MailSandbox, to: str = REPLY_ADDRESS, subject: str = "Re: Coaching diary",
         body: str = "Topik: coaching bulanan\n", sender: str = EMPLOYEE) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(sandbox.host, sandbox.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


def mailbox(sandbox: MailSandbox, address: str = SERVICE) -> MailBoxUnencrypted:
    return MailBoxUnencrypted(sandbox.host, sandbox.imap_port, timeout=5).login(address, "sandbox")


def test_mail_to_a_sub_address_lands_in_the_base_inbox_with_delivered_to(sandbox):
    send(sandbox)

    with mailbox(sandbox) as inbox:
        [message] = inbox.fetch(mark_seen=False)

    assert message.subject == "Re: Coaching diary"
    assert message.from_ == EMPLOYEE
    assert message.headers["delivered-to"] == (REPLY_ADDRESS,)
    assert message.headers["return-path"] == (f"<{EMPLOYEE}>",)


def test_the_store_lists_addresses_and_messages_for_humans(sandbox):
    send(sandbox)
    send(sandbox, to=SUPERVISOR, subject="Sign-off request")

    assert sandbox.store.addresses() == [SUPERVISOR, SERVICE]
    [stored] = sandbox.store.messages(SUPERVISOR)
    assert stored.uid == 1
    assert stored.subject == "Sign-off request"
    assert stored.flags == frozenset()


def test_a_wrong_password_is_refused(sandbox):
    from imap_tools.errors import MailboxLoginError

    with pytest.raises(MailboxLoginError):
        MailBoxUnencrypted(sandbox.host, sandbox.imap_port).login(SERVICE, "wrong")


def test_bulk_fetch_with_mark_seen_false_leaves_messages_unseen(sandbox):
    for number in range(3):
        send(sandbox, subject=f"Reply {number}")

    with mailbox(sandbox) as inbox:
        fetched = list(inbox.fetch(mark_seen=False, bulk=True))
        still_unseen = inbox.uids(A(seen=False))

    assert [m.subject for m in fetched] == ["Reply 0", "Reply 1", "Reply 2"]
    assert [m.uid for m in fetched] == ["1", "2", "3"]
    assert [m.size_rfc822 for m in fetched] == [len(s.raw) for s in sandbox.store.messages(SERVICE)]
    assert still_unseen == ["1", "2", "3"]


def test_fetching_with_mark_seen_marks_messages_seen(sandbox):
    send(sandbox)

    with mailbox(sandbox) as inbox:
        [message] = inbox.fetch()
        assert MailMessageFlags.SEEN in message.flags
        assert inbox.uids(A(seen=False)) == []
        assert inbox.uids(A(seen=True)) == ["1"]


def test_headers_only_fetch_returns_the_header_and_no_body(sandbox):
    send(sandbox, body="the body stays on the server\n")

    with mailbox(sandbox) as inbox:
        [message] = inbox.fetch(headers_only=True, mark_seen=False)

    assert message.subject == "Re: Coaching diary"
    assert message.text == ""


def test_messages_move_into_a_nested_folder_with_the_move_command(sandbox):
    send(sandbox, subject="First")
    send(sandbox, subject="Second")

    with mailbox(sandbox) as inbox:
        inbox.folder.create("CLD/Processed")
        assert "MOVE" in inbox.client.capabilities
        inbox.move(inbox.uids(), "CLD/Processed")

        assert inbox.uids() == []
        inbox.folder.set("CLD/Processed")
        assert [m.subject for m in inbox.fetch(mark_seen=False)] == ["First", "Second"]
        names = [folder.name for folder in inbox.folder.list()]

    assert names == ["CLD", "CLD/Processed", "INBOX"]


def test_messages_move_by_copy_and_expunge_when_the_client_does_not_know_move(sandbox):
    send(sandbox, subject="First")
    send(sandbox, subject="Second")

    with mailbox(sandbox) as inbox:
        inbox.folder.create("CLD/Processed")
        # imaplib keeps the capabilities it read before login; without MOVE imap-tools
        # falls back to COPY, STORE +FLAGS (\Deleted) and EXPUNGE.
        inbox.client.capabilities = tuple(c for c in inbox.client.capabilities if c != "MOVE")
        [(copied, deleted)] = inbox.move(["1"], "CLD/Processed")

        assert copied[0][0] == "OK" and deleted[0][1][0] == "OK"
        assert [m.subject for m in inbox.fetch(mark_seen=False)] == ["Second"]
        assert inbox.folder.status("CLD/Processed")["MESSAGES"] == 1


def test_flags_can_be_set_and_cleared(sandbox):
    send(sandbox)

    with mailbox(sandbox) as inbox:
        inbox.flag("1", [MailMessageFlags.FLAGGED, "cld-processed"], True)
        assert inbox.uids(A(flagged=True, keyword="cld-processed")) == ["1"]
        inbox.flag("1", MailMessageFlags.FLAGGED, False)
        [message] = inbox.fetch(mark_seen=False)

    assert set(message.flags) == {"cld-processed", "\\Recent"}


def test_search_understands_the_criteria_imap_tools_sends(sandbox):
    send(sandbox, subject="Diary for May", sender=EMPLOYEE)
    send(sandbox, subject="Sign-off", sender=SUPERVISOR)
    send(sandbox, subject="Diary for June", sender=EMPLOYEE)

    with mailbox(sandbox) as inbox:
        inbox.flag("2", MailMessageFlags.SEEN, True)
        today = datetime.date.today()
        assert inbox.uids(A(uid=U("2", "*"))) == ["2", "3"]
        assert inbox.uids(A(uid="1,3")) == ["1", "3"]
        assert inbox.uids(NOT(seen=True)) == ["1", "3"]
        assert inbox.uids(OR(from_=SUPERVISOR, subject="June")) == ["2", "3"]
        assert inbox.uids(AND(subject="diary", from_=EMPLOYEE)) == ["1", "3"]
        tomorrow = today + datetime.timedelta(days=1)
        assert inbox.uids(A(date_gte=today, date_lt=tomorrow)) == ["1", "2", "3"]
        assert inbox.uids(A(text="Topik")) == ["1", "2", "3"]
        assert inbox.numbers(A(seen=False)) == ["1", "3"]
        # RFC 3501: "*" is the highest UID in use, so "4:*" still matches the last message.
        assert inbox.uids(A(uid=U("4", "*"))) == ["3"]


def test_an_appended_message_keeps_its_flags_and_date(sandbox):
    message = EmailMessage()
    message["From"] = SUPERVISOR
    message["Subject"] = "Drafted review"
    message.set_content("Looks good.\n")
    jakarta = datetime.timezone(datetime.timedelta(hours=7))
    sent_at = datetime.datetime(2024, 5, 3, 9, 30, tzinfo=jakarta)

    with mailbox(sandbox) as inbox:
        inbox.folder.create("Drafts")
        typ, data = inbox.append(message.as_bytes(), "Drafts", dt=sent_at,
                                 flag_set=[MailMessageFlags.DRAFT])
        inbox.folder.set("Drafts")
        [fetched] = inbox.fetch(bulk=True, mark_seen=False)
        _, internal = inbox.client.uid("FETCH", fetched.uid, "(INTERNALDATE)")

    assert typ == "OK" and b"APPENDUID" in data[0]
    assert fetched.subject == "Drafted review"
    assert "\\Draft" in fetched.flags
    assert b'INTERNALDATE " 3-May-2024 09:30:00 +0700"' in internal[0]


def test_idle_announces_mail_delivered_by_smtp_from_another_thread(sandbox):
    with mailbox(sandbox) as inbox:
        later = threading.Timer(0.3, send, args=(sandbox,))
        later.start()
        started = time.monotonic()
        responses = inbox.idle.wait(timeout=5)
        waited = time.monotonic() - started
        later.join()

        assert b"* 1 EXISTS" in responses
        assert waited < 1.5
        assert inbox.uids() == ["1"]


def test_uids_and_uidvalidity_survive_a_restart(tmp_path):
    with MailSandbox(tmp_path) as first:
        send(first, subject="Before restart")
        with mailbox(first) as inbox:
            before = inbox.folder.status("INBOX")
            inbox.delete("1")  # UIDs are never reused, even for expunged messages
        send(first, subject="Kept")

    with MailSandbox(tmp_path) as second:
        send(second, subject="After restart")
        with mailbox(second) as inbox:
            after = inbox.folder.status("INBOX")
            uids = {m.subject: m.uid for m in inbox.fetch(mark_seen=False)}

    assert after["UIDVALIDITY"] == before["UIDVALIDITY"]
    assert uids == {"Kept": "2", "After restart": "3"}


def test_two_hundred_messages_are_fetched_in_bulk_quickly(sandbox):
    for number in range(200):
        raw = f"Subject: Reply {number}\r\n\r\nbody {number}\r\n".encode()
        sandbox.store.deliver(REPLY_ADDRESS, raw)

    with mailbox(sandbox) as inbox:
        started = time.monotonic()
        fetched = list(inbox.fetch(bulk=True, mark_seen=False))
        elapsed = time.monotonic() - started

    assert [m.subject for m in fetched] == [f"Reply {n}" for n in range(200)]
    assert elapsed < 2


def test_two_clients_work_at_once_and_see_each_others_changes(sandbox):
    send(sandbox, subject="Shared")
    with mailbox(sandbox) as first, mailbox(sandbox) as second:
        first.folder.create("CLD/Processed")
        first.move("1", "CLD/Processed")
        send(sandbox, subject="New")

        # The second client still numbers the moved message until a NOOP tells it otherwise.
        second.client.noop()
        assert second.client.untagged_responses.pop("EXPUNGE") == [b"1"]
        assert second.client.untagged_responses.pop("EXISTS")[-1] == b"1"
        assert [m.subject for m in second.fetch(mark_seen=False, bulk=True)] == ["New"]
        assert [m.subject for m in first.fetch(mark_seen=False, bulk=True)] == ["New"]


def test_many_clients_can_fetch_in_parallel(sandbox):
    for number in range(20):
        sandbox.store.deliver(SERVICE, f"Subject: Mail {number}\r\n\r\nbody\r\n".encode())
    counts = []

    def read_all():
        with mailbox(sandbox) as inbox:
            counts.append(len(list(inbox.fetch(mark_seen=False, bulk=True))))

    threads = [threading.Thread(target=read_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert counts == [20] * 8


def test_the_server_answers_the_raw_grammar_strictly(sandbox):
    with socket.create_connection((sandbox.host, sandbox.imap_port), timeout=5) as raw:
        conversation = raw.makefile("rwb")

        def say(data: bytes) -> None:
            conversation.write(data)
            conversation.flush()

        def until_tagged(tag: bytes) -> list[bytes]:
            lines = []
            while not lines or not lines[-1].startswith(tag + b" "):
                lines.append(conversation.readline())
            return lines

        assert conversation.readline().startswith(b"* OK [CAPABILITY IMAP4rev1")
        say(b"a1 FROB\r\n")
        assert until_tagged(b"a1")[-1].startswith(b"a1 BAD")
        say(b"a2 SELECT INBOX\r\n")
        assert until_tagged(b"a2")[-1].startswith(b"a2 BAD")  # not logged in yet
        say(b"a3 LOGIN {18}\r\n")
        assert conversation.readline().startswith(b"+ ")
        say(b"cld@office.example {7+}\r\nsandbox\r\n")
        assert until_tagged(b"a3")[-1].startswith(b"a3 OK")
        say(b'a4 APPEND INBOX (\\Seen) {23+}\r\nSubject: raw\r\n\r\nhello\r\n\r\n')
        assert b"[APPENDUID " in until_tagged(b"a4")[-1]
        say(b"a5 SELECT inbox\r\n")
        selected = until_tagged(b"a5")
        assert b"* 1 EXISTS\r\n" in selected and selected[-1].startswith(b"a5 OK [READ-WRITE]")
        say(b"a6 FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n")
        fetched = until_tagged(b"a6")
        assert fetched[0] == (
            b"* 1 FETCH (FLAGS (\\Recent \\Seen) BODY[HEADER.FIELDS (SUBJECT)] {16}\r\n")
        assert fetched[1:3] == [b"Subject: raw\r\n", b"\r\n"]
        say(b'a7 STATUS "INBOX" (MESSAGES UNSEEN)\r\n')
        assert b'* STATUS "INBOX" (MESSAGES 1 UNSEEN 0)\r\n' in until_tagged(b"a7")
        say(b"a8 FETCH 1 (ENVELOPE)\r\n")
        assert until_tagged(b"a8")[-1].startswith(b"a8 BAD")
        say(b"a9 LOGOUT\r\n")
        assert until_tagged(b"a9")[0].startswith(b"* BYE")


def test_smtp_refuses_a_message_over_the_size_limit(tmp_path):
    with MailSandbox(tmp_path, size_limit=1000) as small:
        with pytest.raises(smtplib.SMTPException):
            send(small, body="x" * 2000)
        assert small.store.addresses() == []


def test_stopping_is_quick_even_with_an_idling_client(tmp_path):
    sandbox = MailSandbox(tmp_path).start()
    inbox = mailbox(sandbox)
    inbox.idle.start()

    started = time.monotonic()
    sandbox.stop()

    assert time.monotonic() - started < 1
    with pytest.raises(OSError):
        socket.create_connection((sandbox.host, sandbox.imap_port), timeout=1)


def test_the_store_is_shared_safely_between_threads(tmp_path):
    store = MailStore(tmp_path)

    def deliver_many(worker: int):
        for number in range(25):
            store.deliver(REPLY_ADDRESS, f"Subject: {worker}-{number}\r\n\r\n.\r\n".encode())

    threads = [threading.Thread(target=deliver_many, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [m.uid for m in store.messages(SERVICE)] == list(range(1, 101))
    store.close()
