"""A generated office of any size: a head of office, units with heads, team leads and staff.

Imported with SQLAlchemy Core bulk inserts (the roster importer flushes one person at a time, which is right
for a monthly CSV of hundreds and too slow to build 100,000 people before every run). The shape follows the
example office: every active person but the head has a supervisor, every unit a head and a mailbox, one unit
is the general affairs unit, names carry titles now and then, one person in fifty has an alias.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, insert, text, update

from bench.env import Names
from workflow import clock
from workflow.models import Employee, Language, Unit

FIRST = ("Agus", "Budi", "Citra", "Dewi", "Eko", "Fajar", "Gita", "Hendra", "Indah", "Joko", "Kartika", "Lia",
         "Made", "Nur", "Oki", "Putri", "Rina", "Sari", "Teguh", "Umi", "Vina", "Wahyu", "Yohanes", "Zainal",
         "Ahmad", "Bayu", "Dian", "Endang", "Fitri", "Galih", "Hadi", "Irma", "Ketut", "Lukman", "Maria", "Nanda",
         "Rizki", "Slamet", "Tri", "Yuni")
MIDDLE = ("Adi", "Bagus", "Candra", "Dwi", "Eka", "Fikri", "Gilang", "Hari", "Ika", "Jaya", "Kurnia", "Lestari",
          "Mulya", "Nugraha", "Okta", "Pratiwi", "Rahma", "Surya", "Tirta", "Utami", "Wulan", "Yoga", "Ayu", "Bima",
          "Cahya", "Dharma", "Eva", "Firman", "Gunawan", "Hesti", "Intan", "Jati", "Kusuma", "Laksana", "Mega",
          "Nirmala", "Purnama", "Ratih", "Sekar", "Wira")
LAST = ("Santoso", "Rahmawati", "Pratama", "Lestari", "Marlina", "Setiawan", "Sitorus", "Wirawan", "Handayani",
        "Nugroho", "Aini", "Gunawan", "Hidayat", "Kusumawati", "Prasetyo", "Simanjuntak", "Sudarsana", "Permata",
        "Dewi", "Wijaya", "Siregar", "Harahap", "Nasution", "Lubis", "Sinaga", "Saputra", "Susanto", "Wibowo",
        "Kurniawan", "Hartono", "Suryadi", "Halim", "Tanjung", "Pohan", "Manurung", "Pangaribuan", "Hutapea",
        "Situmorang", "Panjaitan", "Tambunan", "Purba", "Ginting", "Sembiring", "Tarigan", "Barus", "Sitepu",
        "Effendi", "Ramadhan", "Firmansyah", "Syahputra", "Maulana", "Hakim", "Fauzi", "Anwar", "Yusuf", "Rahman",
        "Iskandar", "Kartono", "Sutrisno", "Suharto", "Mulyadi", "Haryanto", "Budiman", "Setiadi", "Wahyudi",
        "Sugiarto", "Rusdi", "Mansur", "Zulkarnain", "Basri")
TITLES = (", S.E.", ", S.H.", ", S.Kom.", ", M.M.", ", S.E., M.Ak.")
STAFF_PER_UNIT = 250
TEAM = 10


def person_name(index: int) -> str:
    """A unique, plausible Indonesian name for every index below 112,000 (a number is added beyond)."""
    first = FIRST[index % len(FIRST)]
    middle = MIDDLE[(index // len(FIRST)) % len(MIDDLE)]
    last = LAST[(index // (len(FIRST) * len(MIDDLE))) % len(LAST)]
    lap = index // (len(FIRST) * len(MIDDLE) * len(LAST))
    name = f"{first} {middle} {last}" + (f" {lap + 1}" if lap else "")
    if index % 7 == 3:
        name += TITLES[index % len(TITLES)]
    return name


@dataclass
class Office:
    size: int
    units: int
    staff: int  # people with a supervisor, i.e. prompted each month


def unit_count(size: int) -> int:
    return max(3, size // STAFF_PER_UNIT)


def unit_name(index: int) -> str:
    return "Subbagian Umum" if index == 0 else f"Seksi {index:04d}"


def people(size: int, names: Names) -> Iterator[dict]:
    """Employee rows (ids from 1): the head of office, unit heads, then staff in teams of ten under a lead."""
    units = unit_count(size)
    now = clock.now()
    for index in range(size):
        employee_id = index + 1
        if index == 0:
            unit, supervisor, position, is_head = 0, None, "Kepala Kantor", True
        elif index <= units:
            unit, supervisor, position, is_head = index - 1, 1, f"Kepala {unit_name(index - 1)}", False
        else:
            k = index - units - 1  # the k-th member of staff
            unit, place = k % units, k // units
            lead_place = place - place % TEAM
            if place == lead_place:
                supervisor, position = unit + 2, "Kepala Subseksi"  # the unit head
            else:
                supervisor, position = units + 1 + lead_place * units + unit + 1, "Pelaksana"
            is_head = False
        yield {"id": employee_id, "nip": f"{199000000000000000 + index:018d}", "name": person_name(index),
               "email": names.employee(index), "aliases": [names.alias(index)] if index % 50 == 7 else [],
               "position": position, "unit_id": unit + 1, "supervisor_id": supervisor,
               "language": Language.EN if index % 5 == 4 else Language.ID, "is_head": is_head, "active": True,
               "created_at": now, "updated_at": now}


def import_office(engine: Engine, size: int, names: Names, chunk: int = 5000) -> Office:
    """Insert a generated office of `size` people into an empty, migrated database."""
    units = unit_count(size)
    with engine.begin() as connection:
        connection.execute(insert(Unit.__table__), [
            {"id": u + 1, "name": unit_name(u), "email": names.unit(u), "active": True} for u in range(units)])
        batch: list[dict] = []
        for row in people(size, names):
            batch.append(row)
            if len(batch) >= chunk:
                connection.execute(insert(Employee.__table__), batch)
                batch = []
        if batch:
            connection.execute(insert(Employee.__table__), batch)
        for u in range(units):
            connection.execute(update(Unit.__table__).where(Unit.__table__.c.id == u + 1).values(head_id=u + 2))
        if connection.dialect.name == "postgresql":
            for table in ("units", "employees"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
            connection.execute(text("ANALYZE"))
    return Office(size=size, units=units, staff=size - 1)


def write_csv(size: int, names: Names, folder: Path) -> tuple[Path, Path]:
    """The same office as roster.csv and units.csv for `cld roster import` (to try the importer by hand)."""
    folder.mkdir(parents=True, exist_ok=True)
    units = unit_count(size)
    nips = {}
    rows = list(people(size, names))
    for row in rows:
        nips[row["id"]] = row["nip"]
    roster, unit_file = folder / "roster.csv", folder / "units.csv"
    with roster.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["nip", "nama", "email", "jabatan", "unit", "nip_atasan", "bahasa", "aliases", "role"])
        for row in rows:
            out.writerow([row["nip"], row["name"], row["email"], row["position"], unit_name(row["unit_id"] - 1),
                          nips.get(row["supervisor_id"], ""), row["language"].value, " ".join(row["aliases"]),
                          "head" if row["is_head"] else ""])
    with unit_file.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["unit", "email", "head_nip"])
        for u in range(units):
            out.writerow([unit_name(u), names.unit(u), nips[u + 2]])
    return roster, unit_file


def seed_prompts(engine: Engine, period: str, keep: int, token_days: int = 45, chunk: int = 5000) -> int:
    """Record the month's prompt as already sent to all but the last `keep` prompted people; returns how many.

    Rows as create_prompt and a flush leave them (prompt, token, sent outbox row, audit event), written with
    Core bulk inserts so that a 100,000-person office can be measured on a bounded slice of the real cycle.
    The seeded emails' bodies are a short stand-in; the bench never replies to those.
    """
    import secrets
    from datetime import timedelta

    from sqlalchemy import select

    from workflow.models import AuditEvent, OutboundMessage, OutboundState, Prompt, PromptState, ReplyToken, \
        TokenPurpose

    now = clock.now()
    with engine.begin() as connection:
        people = connection.execute(select(Employee.id, Employee.email).where(
            Employee.active, Employee.supervisor_id.is_not(None)).order_by(Employee.id)).all()
        seeded = people[:max(len(people) - keep, 0)]
        for start in range(0, len(seeded), chunk):
            part = seeded[start:start + chunk]
            prompts, tokens, mails, events = [], [], [], []
            for k, (employee_id, address) in enumerate(part, start=start + 1):
                token = secrets.token_hex(16)
                prompts.append({"id": k, "period": period, "employee_id": employee_id, "state": PromptState.SENT,
                                "reminders_sent": 0, "created_at": now})
                tokens.append({"id": k, "token": token, "short_code": token[:12], "purpose": TokenPurpose.PROMPT,
                               "owner_id": employee_id, "prompt_id": k, "one_time": False,
                               "expires_at": now + timedelta(days=token_days), "created_at": now})
                mails.append({"id": k, "message_id": f"<seeded.{k}.{token[:8]}@bench.example>",
                              "dedupe_key": f"prompt:{k}", "kind": "prompt", "recipients": [address],
                              "subject": f"[CLD-{token[:12]}] Sesi coaching", "raw": b"Subject: seeded\r\n\r\n.\r\n",
                              "employee_id": employee_id, "token_id": k, "state": OutboundState.SENT, "attempts": 1,
                              "next_attempt_at": now, "sent_at": now, "last_error": "", "created_at": now})
                events.append({"at": now, "actor": "prompts", "subject_type": "prompts", "subject_id": k,
                               "event": "prompt.sent", "to_state": "sent", "detail": {}})
            connection.execute(insert(Prompt.__table__), prompts)
            connection.execute(insert(ReplyToken.__table__), tokens)
            connection.execute(insert(OutboundMessage.__table__), mails)
            connection.execute(insert(AuditEvent.__table__), events)
        if connection.dialect.name == "postgresql":
            for table in ("prompts", "reply_tokens", "outbound_messages", "audit_events"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"GREATEST((SELECT max(id) FROM {table}), 1))"))
            connection.execute(text("ANALYZE"))
    return len(seeded)
