import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import EXAMPLES
from workflow.models import AuditEvent, Employee, Unit
from workflow.roster import RosterError, import_roster, load_files, org_tree

HEADER = "nip,nama,email,jabatan,unit,nip_atasan,bahasa,aliases,role\n"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_the_example_office_imports_with_a_head_two_levels_of_supervisors_and_five_units(any_engine):
    from workflow.db import session_factory

    session = session_factory(any_engine)()
    people, units = load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv")
    report = import_roster(session, people, units)
    session.commit()
    assert len(report.created) == len(people) + len(units)
    assert session.scalar(select(func.count()).select_from(Unit)) == 5
    heads = list(session.scalars(select(Employee).where(Employee.is_head)))
    assert len(heads) == 1 and heads[0].supervisor_id is None
    depth = max(_depth(e) for e in session.scalars(select(Employee)))
    assert depth >= 3
    assert all(u.head_id is not None and u.email for u in session.scalars(select(Unit)))
    session.close()


def _depth(employee: Employee) -> int:
    depth = 0
    while employee.supervisor is not None:
        employee, depth = employee.supervisor, depth + 1
    return depth


def test_a_second_import_of_the_same_files_changes_nothing(any_engine):
    from workflow.db import session_factory

    session = session_factory(any_engine)()
    people, units = load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv")
    import_roster(session, people, units)
    session.commit()
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    report = import_roster(session, *load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv"))
    session.commit()
    assert not report.changed and report.unchanged == len(people)
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events
    session.close()


def test_people_left_out_of_a_new_file_become_inactive_and_are_never_deleted(session, tmp_path):
    people, units = load_files(EXAMPLES / "roster.csv", EXAMPLES / "units.csv")
    import_roster(session, people, units)
    leaver = next(p for p in people if p.supervisor_nip and not any(q.supervisor_nip == p.nip for q in people))
    lines = (EXAMPLES / "roster.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    smaller = write(tmp_path, "roster.csv", "".join(line for line in lines if not line.startswith(leaver.nip)))
    report = import_roster(session, *load_files(smaller, EXAMPLES / "units.csv"))
    assert report.deactivated == [leaver.nip]
    assert session.scalar(select(Employee).where(Employee.nip == leaver.nip)).active is False


def test_a_change_of_supervisor_is_updated_in_place(session, tmp_path):
    body = HEADER + ("1,Kepala,k@example.test,Kepala Kantor,Umum,,id,,head\n"
                     "2,Ani,ani@example.test,Kepala Seksi,Umum,1,id,,\n"
                     "3,Budi,budi@example.test,Pelaksana,Umum,2,en,budi@kemenkeu.example,\n")
    import_roster(session, *load_files(write(tmp_path, "a.csv", body)))
    report = import_roster(session, *load_files(write(tmp_path, "b.csv", body.replace("Umum,2,en", "Umum,1,en"))))
    budi = session.scalar(select(Employee).where(Employee.nip == "3"))
    assert report.updated == ["3"] and budi.supervisor.nip == "1"
    assert budi.addresses() == {"budi@example.test", "budi@kemenkeu.example"}


def test_three_different_bad_rows_are_all_reported_with_row_numbers_and_nothing_is_imported(session):
    with pytest.raises(RosterError) as error:
        load_files(EXAMPLES / "roster-bad.csv", EXAMPLES / "units.csv")
    problems = error.value.problems
    assert len(problems) == 3
    assert all(" row " in f" {p}" for p in problems)
    assert any("duplicate NIP" in p for p in problems)
    assert any("unknown supervisor" in p for p in problems)
    assert any("invalid email" in p for p in problems)
    assert session.scalar(select(func.count()).select_from(Employee)) == 0


def test_a_supervisor_cycle_and_an_unknown_unit_are_refused(tmp_path):
    body = HEADER + ("1,A,a@example.test,X,Umum,3,id,,\n"
                     "2,B,b@example.test,X,Umum,1,id,,\n"
                     "3,C,c@example.test,X,Nowhere,2,id,,\n")
    units = write(tmp_path, "units.csv", "unit,email,head_nip\nUmum,umum@example.test,1\n")
    with pytest.raises(RosterError) as error:
        load_files(write(tmp_path, "r.csv", body), units)
    assert error.value.problems == ["row 2: supervisor cycle through rows 2, 3, 4", "row 4: unknown unit 'Nowhere'"]


def test_indonesian_and_english_headers_in_any_case_are_accepted(tmp_path):
    body = ("NIP;Name;EMAIL;Position;Unit;Supervisor_NIP;Language\n"
            "1;Kepala;K@Example.test;Kepala Kantor;Umum;;EN\n")
    people, _ = load_files(write(tmp_path, "r.csv", body))
    assert (people[0].email, people[0].language) == ("k@example.test", "en")


def test_an_xlsx_roster_with_a_units_sheet_imports(session, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["nip", "nama", "email", "jabatan", "unit", "nip_atasan", "bahasa", "aliases", "role"])
    sheet.append(["10", "Kepala", "kepala@example.test", "Kepala Kantor", "Umum", None, "id", None, "head"])
    sheet.append(["11", "Staf", "staf@example.test", "Pelaksana", "Umum", "10", None, None, None])
    units = book.create_sheet("units")
    units.append(["unit", "email", "head_nip"])
    units.append(["Umum", "umum@example.test", "10"])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    report = import_roster(session, *load_files(path))
    assert len(report.created) == 3
    assert session.scalar(select(Unit)).email == "umum@example.test"


def test_the_org_tree_puts_the_head_of_office_at_the_root(office):
    tree = org_tree(office).splitlines()
    assert "head of office" in tree[0] and not tree[0].startswith(" ")
    assert any(line.startswith("        ") for line in tree)


def run_cld(*args, env):
    return subprocess.run([sys.executable, "-m", "workflow.cli", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_roster_commands_import_show_and_refuse_on_both_databases(database, tmp_path, pg_url, request):
    import os

    if database == "postgresql":
        request.getfixturevalue("pg_engine")
        url = pg_url
    else:
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {**os.environ, "CLD_DATABASE_URL": url, "CLD_DATA_DIR": str(tmp_path)}
    assert run_cld("db", "upgrade", env=env).returncode == 0
    first = run_cld("roster", "import", str(EXAMPLES / "roster.csv"), "--units", str(EXAMPLES / "units.csv"), env=env)
    assert first.returncode == 0, first.stderr
    again = run_cld("roster", "import", str(EXAMPLES / "roster.csv"), "--units", str(EXAMPLES / "units.csv"), env=env)
    assert "0 created, 0 updated, 0 deactivated" in again.stdout
    shown = run_cld("roster", "show", env=env)
    assert shown.returncode == 0 and "head of office" in shown.stdout.splitlines()[0]
    bad = run_cld("roster", "import", str(EXAMPLES / "roster-bad.csv"), "--units", str(EXAMPLES / "units.csv"), env=env)
    assert bad.returncode == 1
    assert "3 problem(s); nothing was imported" in bad.stderr
    assert [line.split(":")[0].strip() for line in bad.stderr.splitlines()[:3]] == ["row 6", "row 11", "row 17"]
