"""The monthly report: every figure of a realistic month checked against numbers worked out by hand."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from workflow.models import (Employee, Entry, EntryState, FollowUp, FollowUpState, Prompt, PromptState,
                             Signature, SignoffRequest, SignoffState, Unit)
from workflow.report_files import csv_zip_bytes, json_bytes, xlsx_bytes
from workflow.reports import monthly_report

WIB = ZoneInfo("Asia/Jakarta")
REPORT_DAY = "2026-12-01T08:00+07:00"
UMUM, PKN, LELANG, PIUTANG, KIHI = ("Subbagian Umum", "Seksi Pengelolaan Kekayaan Negara", "Seksi Pelayanan Lelang",
                                    "Seksi Piutang Negara", "Seksi Kepatuhan Internal, Hukum dan Informasi")


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


def person(session, name: str) -> Employee:
    return session.scalar(select(Employee).where(Employee.name.startswith(name)))


def unit(session, name: str) -> Unit:
    return session.scalar(select(Unit).where(Unit.name == name))


def fake_hash(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def prompt_all(session, period: str, state=PromptState.MISSED) -> dict[int, Prompt]:
    """A prompt for every active person with a supervisor, as the prompt job would create them."""
    prompts = {}
    for employee in session.scalars(select(Employee).where(Employee.active, Employee.supervisor_id.is_not(None))):
        prompts[employee.id] = Prompt(period=period, employee_id=employee.id, state=state)
        session.add(prompts[employee.id])
    session.flush()
    return prompts


def add_session(session, prompt: Prompt, day: str, minutes: int, rating: str, state: EntryState, *,
                requested: str | None = None, version: int = 1, topic: str = "Penilaian aset", **fields) -> Entry:
    """One diary entry with its sign-off request, and its signature when signed."""
    employee = session.get(Employee, prompt.employee_id)
    signer = employee.supervisor
    session_day = date.fromisoformat(day)
    entry = Entry(prompt_id=prompt.id, employee_id=employee.id, period=prompt.period, version=version, state=state,
                  session_date=session_day, start_time=time(9, 0), duration_minutes=minutes, over_hour=minutes > 60,
                  mentor_id=signer.id, mentor_name=signer.name, topic=topic, rating=rating, signer_id=signer.id,
                  objectives=fields.pop("objectives", "Memahami langkah kerja"),
                  notes=fields.pop("notes", "Dibahas contoh kasus dan langkah berikutnya."), **fields)
    session.add(entry)
    session.flush()
    prompt.state = PromptState.ANSWERED
    request_state = {EntryState.SIGNED: SignoffState.APPROVED, EntryState.AWAITING_SIGNOFF: SignoffState.PENDING,
                     EntryState.REVISION_REQUESTED: SignoffState.REVISION}[state]
    session.add(SignoffRequest(entry_id=entry.id, entry_version=version, signer_id=signer.id, state=request_state,
                               requested_on=date.fromisoformat(requested) if requested else session_day))
    if state == EntryState.SIGNED:
        signed_at = wib(f"{day}T16:30")
        content = fake_hash("entry", entry.id, version)
        session.add(Signature(entry_id=entry.id, entry_version=version, employee_id=employee.id, signer_id=signer.id,
                              signed_at=signed_at, message_id=f"<signoff-{entry.id}.{version}@example.test>",
                              auth_verdict="dmarc=pass", content_hash=content, previous_hash="0" * 64,
                              chain_hash=fake_hash("chain", content)))
    session.flush()
    return entry


def add_issue(session, employee: Employee, to_unit: str, text: str, opened: str, deadline: str,
              resolved: str | None = None, state=None, entry: Entry | None = None, note: str = "") -> FollowUp:
    issue = FollowUp(entry_id=entry.id if entry else None, employee_id=employee.id, raised_by_id=employee.id,
                     source="entry", text=text, unit_id=unit(session, to_unit).id,
                     state=state or (FollowUpState.RESOLVED if resolved else FollowUpState.OPEN),
                     deadline=date.fromisoformat(deadline), created_at=wib(opened),
                     resolved_at=wib(resolved) if resolved else None, resolution_note=note)
    session.add(issue)
    session.flush()
    return issue


def build_november(session, unanswered=PromptState.MISSED) -> dict:
    """The example office's November 2026, closed on 1 December (see the module's tests for the sums).

    `unanswered=PromptState.SENT` leaves the period for `close_period` to close.
    """
    heru = person(session, "Heru Kurniawan")
    heru.active = False  # left in October: never prompted, so never counted
    october = prompt_all(session, "2026-10")
    november = prompt_all(session, "2026-11", unanswered)
    for prompt in [*october.values(), *november.values()]:
        if prompt.period == "2026-10" and prompt.employee_id not in (person(session, "Agus").id,
                                                                     person(session, "Nur Aini").id):
            session.delete(prompt)
    session.flush()
    p = {name: november[person(session, name).id] for name in
         ("Agus", "Nur Aini", "Yohanes", "Dewi Kartika", "Rizky", "Maria", "Kevin")}
    made = {
        "agus_oct": add_session(session, october[person(session, "Agus").id], "2026-10-14", 30, "fairly_useful",
                                EntryState.SIGNED),
        "agus": add_session(session, p["Agus"], "2026-11-05", 45, "very_useful", EntryState.SIGNED,
                            topic="Tata naskah dinas", references="PMK 120/2024"),
        "nur_1": add_session(session, p["Nur Aini"], "2026-11-06", 30, "fairly_useful", EntryState.SIGNED),
        "nur_2": add_session(session, p["Nur Aini"], "2026-11-24", 75, "very_useful", EntryState.AWAITING_SIGNOFF,
                             requested="2026-11-24"),
        "yohanes": add_session(session, p["Yohanes"], "2026-11-18", 60, "ordinary", EntryState.REVISION_REQUESTED),
        "dewi": add_session(session, p["Dewi Kartika"], "2026-11-12", 90, "very_useful", EntryState.SIGNED),
        "rizky": add_session(session, p["Rizky"], "2026-11-26", 40, "not_useful", EntryState.AWAITING_SIGNOFF,
                             requested="2026-11-27"),
        "maria": add_session(session, p["Maria"], "2026-11-10", 50, "fairly_useful", EntryState.SIGNED, version=2),
        "kevin": add_session(session, p["Kevin"], "2026-11-19", 60, "very_useful", EntryState.SIGNED),
    }
    agus, nur = person(session, "Agus"), person(session, "Nur Aini")
    made["issues"] = [
        add_issue(session, agus, UMUM, "Printer ruang arsip rusak", "2026-11-05T10:00", "2026-11-12",
                  resolved="2026-11-09T10:00", entry=made["agus"], note="Printer sudah diganti."),
        add_issue(session, nur, KIHI, "Akses aplikasi SIMAN belum aktif", "2026-11-10T09:00", "2026-11-17",
                  resolved="2026-11-20T15:00"),
        add_issue(session, nur, KIHI, "VPN sering terputus", "2026-11-25T09:00", "2026-12-02"),
        add_issue(session, agus, PIUTANG, "Data piutang macet belum dimutakhirkan", "2026-10-20T09:00", "2026-10-27",
                  state=FollowUpState.IN_PROGRESS),
        add_issue(session, agus, PKN, "Dokumen BMN tidak lengkap", "2026-10-15T09:00", "2026-10-22",
                  resolved="2026-11-03T09:00"),
    ]
    session.commit()
    return made


@pytest.fixture
def november(office, settings, clock_at):
    clock_at(REPORT_DAY)
    return build_november(office)


def test_the_report_counts_only_prompted_people_and_each_employees_month(office, settings, november):
    report = monthly_report(office, settings, "2026-11")
    by_name = {line.name.split(",")[0]: line for line in report.employees}
    # 40 on the roster - the head of office (no supervisor) - Heru (inactive, never prompted) = 38.
    assert len(report.employees) == 38 and "Heru Kurniawan" not in by_name
    assert "Dr. Hendra Wijaya" not in by_name
    nur = by_name["Nur Aini"]
    assert (nur.status, nur.sessions, nur.total_minutes, nur.longest_minutes, nur.over_hour, nur.signed,
            nur.pending, nur.ratings, nur.missed) == ("signed", 2, 105, 75, 1, 1, 1,
                                                      ["fairly_useful", "very_useful"], False)
    assert nur.unit == UMUM and nur.supervisor == "Sri Rahayu, S.H."
    assert (by_name["Yohanes Sitorus"].status, by_name["Yohanes Sitorus"].pending) == ("revision_requested", 1)
    assert by_name["Rizky Pratama"].status == "awaiting_signoff"
    assert by_name["Kevin Tanujaya"].over_hour == 0  # exactly 60 minutes is within the rule
    assert by_name["Agus Setiawan"].ratings == ["very_useful"]  # October's session is not November's
    assert by_name["Joko Susilo"].status == "missed" and by_name["Joko Susilo"].missed
    assert sum(line.missed for line in report.employees) == 38 - 7


def test_completion_sessions_and_ratings_per_unit_and_for_the_office(office, settings, november):
    report = monthly_report(office, settings, "2026-11")
    units = {u.unit: u for u in report.units}
    expected = {  # unit: (prompted, completed, sessions, over an hour, missed)
        UMUM: (7, 2, 4, 1, 4), PKN: (8, 2, 3, 1, 5), LELANG: (8, 1, 1, 0, 7), PIUTANG: (7, 0, 0, 0, 7),
        KIHI: (8, 0, 0, 0, 8)}
    for name, (prompted, completed, sessions, over, missed) in expected.items():
        u = units[name]
        assert (u.prompted, u.completed, u.sessions, u.over_hour, u.missed) == (prompted, completed, sessions, over,
                                                                                missed), name
        assert u.completion_rate == round(completed / prompted, 4)
    office_total = report.office
    assert (office_total.prompted, office_total.completed, office_total.sessions, office_total.over_hour,
            office_total.missed) == (38, 5, 8, 2, 31)
    assert office_total.completion_rate == round(5 / 38, 4)
    assert office_total.ratings == {"very_useful": 4, "fairly_useful": 2, "ordinary": 1, "not_useful": 1}
    assert units[UMUM].ratings == {"very_useful": 2, "fairly_useful": 1, "ordinary": 1, "not_useful": 0}


def test_pending_signoffs_are_aged_in_working_days(office, settings, november):
    report = monthly_report(office, settings, "2026-11")
    # Requested Tue 24 Nov: 25, 26, 27, 30 Nov and 1 Dec = 5; requested Fri 27 Nov: 30 Nov, 1 Dec = 2.
    assert [(p.name, p.age_working_days) for p in report.pending] == [("Nur Aini", 5), ("Rizky Pratama", 2)]
    units = {u.unit: u for u in report.units}
    assert (units[UMUM].signoffs_pending, units[UMUM].oldest_pending_days) == (1, 5)
    assert (units[PKN].signoffs_pending, units[PKN].oldest_pending_days) == (1, 2)
    assert (report.office.signoffs_pending, report.office.oldest_pending_days) == (2, 5)
    assert units[LELANG].signoffs_pending == 0  # Yohanes's revision waits for him, not for a signer


def test_issues_opened_resolved_and_open_by_age_and_unit_with_the_mean_time_to_resolve(office, settings, november):
    report = monthly_report(office, settings, "2026-11")
    assert [i.text for i in report.issues] == ["Dokumen BMN tidak lengkap", "Data piutang macet belum dimutakhirkan",
                                               "Printer ruang arsip rusak", "Akses aplikasi SIMAN belum aktif",
                                               "VPN sering terputus"]
    total = report.office
    # Opened in November: printer, SIMAN, VPN. Resolved in November: printer (4 d), SIMAN (10.25 d), BMN (19 d).
    assert (total.issues_opened, total.issues_resolved, total.issues_open) == (3, 3, 2)
    assert total.mean_days_to_resolve == round((4 + 10.25 + 19) / 3, 1) == 11.1
    # Open on 1 Dec: VPN since 25 Nov (6 days), piutang since 20 Oct (42 days, past its deadline).
    assert total.open_by_age == {"0-7": 1, "8-14": 0, "15-30": 0, ">30": 1}
    open_issues = {i.text: (i.age_days, i.overdue) for i in report.issues if i.age_days is not None}
    assert open_issues == {"VPN sering terputus": (6, False), "Data piutang macet belum dimutakhirkan": (42, True)}
    units = {u.unit: u for u in report.units}
    assert [(units[n].issues_opened, units[n].issues_resolved, units[n].issues_open) for n in
            (UMUM, KIHI, PIUTANG, PKN, LELANG)] == [(1, 1, 0), (2, 1, 1), (0, 0, 1), (0, 1, 0), (0, 0, 0)]
    assert (units[UMUM].mean_days_to_resolve, units[KIHI].mean_days_to_resolve,
            units[PKN].mean_days_to_resolve) == (4.0, 10.2, 19.0)  # 10.25 rounds half to even


def test_trends_cover_six_periods_for_the_office_each_unit_and_one_employee(office, settings, november):
    agus = person(office, "Agus")
    report = monthly_report(office, settings, "2026-11", trend_nip=agus.nip)
    mine = [(t.period, t.sessions, t.ratings["fairly_useful"], t.ratings["very_useful"], t.mean_score)
            for t in report.trends if t.scope == "employee"]
    assert mine == [("2026-06", 0, 0, 0, None), ("2026-07", 0, 0, 0, None), ("2026-08", 0, 0, 0, None),
                    ("2026-09", 0, 0, 0, None), ("2026-10", 1, 1, 0, 3.0), ("2026-11", 1, 0, 1, 4.0)]
    umum = {t.period: (t.prompted, t.completed, t.sessions) for t in report.trends if t.name == UMUM}
    assert umum == {"2026-10": (2, 1, 1), "2026-11": (7, 2, 4)}
    office_nov = next(t for t in report.trends if t.scope == "office" and t.period == "2026-11")
    # Scores: very useful 4 x4, fairly 3 x2, ordinary 2 x1, not useful 1 x1 -> 25 / 8.
    assert (office_nov.completion_rate, office_nov.mean_score) == (round(5 / 38, 4), round(25 / 8, 2))


def test_the_xlsx_has_one_sheet_per_view_frozen_headers_and_a_completion_chart(office, settings, november):
    report = monthly_report(office, settings, "2026-11")
    book = load_workbook(io.BytesIO(xlsx_bytes(report)))
    assert book.sheetnames == ["Pegawai - Employees", "Unit - Units", "TTD tertunda - Pending", "Isu - Issues",
                               "Tren - Trends", "Catatan - Notes"]
    units = book["Unit - Units"]
    assert units.freeze_panes == "B2" and book["Pegawai - Employees"].freeze_panes == "B2"
    rows = list(units.iter_rows(min_row=2, values_only=True))
    assert rows[-1][:4] == ("Kantor / Office", 38, 5, round(5 / 38, 4))
    assert units["D2"].number_format == "0.0%"
    [chart] = units._charts
    assert chart.type == "bar" and len(chart.series) == 1
    assert book["Pegawai - Employees"].max_row == 39
    assert book["Pegawai - Employees"].column_dimensions["B"].width == 30


def test_csv_is_a_zip_of_one_file_per_view_and_json_is_the_same_data(office, settings, november):
    report = monthly_report(office, settings, "2026-11")
    archive = zipfile.ZipFile(io.BytesIO(csv_zip_bytes(report)))
    assert sorted(archive.namelist()) == sorted(f"2026-11-{v}.csv" for v in
                                                ("employees", "units", "signoffs_pending", "issues", "trends"))
    employees = archive.read("2026-11-employees.csv").decode("utf-8-sig").splitlines()
    assert len(employees) == 39 and employees[0].startswith("NIP,")
    data = json.loads(json_bytes(report))
    assert data["period"] == "2026-11" and data["office"]["completed"] == 5 and len(data["employees"]) == 38
    assert data["pending"][0]["requested_on"] == "2026-11-24"
