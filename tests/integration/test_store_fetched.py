"""Storing a fetched batch at once keeps the rules of storing one message at a time."""

from sqlalchemy import select

from workflow import inbound
from workflow.db import session_factory
from workflow.models import InboundMessage, InboundStatus


def message(message_id: str | None, subject: str = "Re: [CLD-abc] Sesi coaching", sender: str = "budi@example.test"):
    headers = f"From: Budi <{sender}>\r\nTo: cld@office.example\r\nSubject: {subject}\r\n"
    if message_id:
        headers += f"Message-ID: <{message_id}>\r\n"
    return (headers + "\r\nTopik: Lelang\r\n").encode()


def rows(session):
    return {row.uid: row for row in session.scalars(select(InboundMessage).order_by(InboundMessage.id))}


def test_a_batch_is_stored_with_its_headers_and_copies_point_at_their_first(any_engine):
    factory = session_factory(any_engine)
    with factory() as session:
        earlier = inbound.store_raw(session, message("earlier@x"), mailbox="INBOX", uidvalidity=7, uid=1)
        session.commit()
        batch = [(2, message("a@x")), (3, message("b@x", subject="=?utf-8?q?Sesi_=C3=A9?=")), (4, message("a@x")),
                 (5, message("earlier@x")), (6, message(None)), (7, message(None))]
        assert inbound.store_fetched(session, batch, mailbox="INBOX", uidvalidity=7) == 6
        session.commit()
        stored = rows(session)
    assert set(stored) == {1, 2, 3, 4, 5, 6, 7}
    assert all(row.status == InboundStatus.STORED and row.raw == raw for uid, raw in batch for row in [stored[uid]])
    assert stored[2].dedupe_key == "mid:<a@x>" and stored[2].from_address == "budi@example.test"
    assert stored[3].subject == "Sesi é"
    assert (stored[4].dedupe_key, stored[4].duplicate_of) == (None, stored[2].id)  # a copy within the batch
    assert (stored[5].dedupe_key, stored[5].duplicate_of) == (None, earlier.id)  # a copy of an earlier message
    # Without a Message-ID the bytes' hash is the key: identical bytes are one message delivered twice.
    assert stored[6].dedupe_key.startswith("sha256:") and stored[7].duplicate_of == stored[6].id


def test_a_batch_fetched_again_stores_nothing_more(any_engine):
    factory = session_factory(any_engine)
    batch = [(10, message("x@x")), (11, message("y@x"))]
    with factory() as session:
        assert inbound.store_fetched(session, batch, mailbox="INBOX", uidvalidity=7) == 2
        session.commit()
        assert inbound.store_fetched(session, batch + [(12, message("z@x"))], mailbox="INBOX", uidvalidity=7) == 1
        session.commit()
        assert sorted(rows(session)) == [10, 11, 12]
        # A new UIDVALIDITY makes the same UIDs new messages; their Message-IDs make them copies.
        assert inbound.store_fetched(session, batch, mailbox="INBOX", uidvalidity=8) == 2
        session.commit()
        copies = session.scalars(select(InboundMessage).where(InboundMessage.uidvalidity == 8)).all()
    assert all(row.duplicate_of is not None for row in copies)


def test_stored_mail_is_compressed_with_lz4_on_postgresql(pg_engine):
    """Migration 0003: raw mail in both directions is written with lz4, not the slower default pglz."""
    from sqlalchemy import text

    with pg_engine.connect() as connection:
        methods = dict(connection.execute(text(
            "SELECT attrelid::regclass::text, attcompression FROM pg_attribute WHERE attname = 'raw' "
            "AND attrelid IN ('inbound_messages'::regclass, 'outbound_messages'::regclass)")).all())
        big = bytes(range(256)) * 40 + b"Topik: Lelang\r\n" * 600  # compressible, beyond the TOAST threshold
        connection.execute(text("INSERT INTO inbound_messages (sha256, raw, size, from_address, subject, status, "
                                "kind, trail, error, attempts, received_at) VALUES ('x', :raw, :size, '', '', "
                                "'STORED', '', '[]', '', 0, now())"), {"raw": big, "size": len(big)})
        written = connection.execute(text("SELECT pg_column_compression(raw) FROM inbound_messages")).scalar()
        connection.rollback()
    assert methods == {"inbound_messages": "l", "outbound_messages": "l"}
    assert written == "lz4"
