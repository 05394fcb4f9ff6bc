"""The diary book: one employee's year of coaching sessions as an A4 PDF (reportlab platypus)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Flowable, Frame, KeepTogether, PageBreak,
                                PageTemplate, Paragraph, Spacer, Table, TableStyle)
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow import clock
from workflow.diary import entry_rows
from workflow.mail.forms import format_date
from workflow.models import Employee, Entry, EntryState, FollowUp, FollowUpState, Signature, Unit
from workflow.settings import Settings

NAVY = colors.HexColor("#0B3D6B")
GREY = colors.HexColor("#5F6B7A")
LINE = colors.HexColor("#C5CED8")
SHADE = colors.HexColor("#EEF2F6")
MARGIN = 20 * mm

TEXT = {
    "id": dict(book="Buku Catatan Coaching dan Pembelajaran", year="Tahun", name="Nama", nip="NIP",
               position="Jabatan", unit="Unit", supervisor="Atasan langsung", office="Kantor",
               summary="Ringkasan", sessions="Sesi tercatat", signed="Ditandatangani", minutes="Total durasi",
               issues="Isu tindak lanjut", printed="Dicetak", page="Halaman {n} dari {total}", session="Sesi",
               period="Periode", version="Versi", status_signed="DITANDATANGANI",
               status_awaiting_signoff="BELUM DITANDATANGANI — menunggu persetujuan atasan",
               status_revision_requested="BELUM DITANDATANGANI — perbaikan diminta",
               watermark="BELUM DITANDATANGANI", review_title="Tinjauan atasan", review="Tinjauan",
               followup_notes="Catatan tindak lanjut", reviewer_next_steps="Langkah berikutnya dari atasan",
               signature_title="Tanda tangan elektronik", signer="Ditandatangani oleh", signed_at="Waktu",
               message="Referensi pesan", auth="Verifikasi pengirim", content_hash="Hash isi",
               chain_hash="Hash rantai", unsigned="Catatan ini belum ditandatangani atasan.",
               closing="Isu Tindak Lanjut", no_issues="Tidak ada isu tindak lanjut pada tahun ini.",
               issue="Isu", to_unit="Unit tujuan", opened="Dibuka", deadline="Tenggat", outcome="Hasil",
               open="Terbuka", in_progress="Dalam proses", resolved="Selesai",
               closing_note="Buku ini disusun otomatis dari catatan yang dikirim melalui email dan "
                            "ditandatangani atasan. Hash isi dan hash rantai memungkinkan pemeriksaan bahwa "
                            "catatan tidak berubah setelah ditandatangani.", minutes_unit="menit"),
    "en": dict(book="Coaching and Learning Diary", year="Year", name="Name", nip="NIP", position="Position",
               unit="Unit", supervisor="Direct supervisor", office="Office", summary="Summary",
               sessions="Sessions recorded", signed="Signed", minutes="Total duration",
               issues="Follow-up issues", printed="Printed", page="Page {n} of {total}", session="Session",
               period="Period", version="Version", status_signed="SIGNED",
               status_awaiting_signoff="NOT SIGNED — awaiting the supervisor's sign-off",
               status_revision_requested="NOT SIGNED — revision requested", watermark="NOT SIGNED",
               review_title="Supervisor's review", review="Review", followup_notes="Follow-up notes",
               reviewer_next_steps="Supervisor's next steps", signature_title="Electronic signature",
               signer="Signed by", signed_at="Time", message="Message reference", auth="Sender verification",
               content_hash="Content hash", chain_hash="Chain hash",
               unsigned="This entry has not been signed by the supervisor.", closing="Follow-up Issues",
               no_issues="No follow-up issues this year.", issue="Issue", to_unit="Responsible unit",
               opened="Opened", deadline="Deadline", outcome="Outcome", open="Open", in_progress="In progress",
               resolved="Resolved",
               closing_note="This book is compiled automatically from entries sent by email and signed by the "
                            "supervisor. The content hash and chain hash let anyone check that an entry has "
                            "not changed since it was signed.", minutes_unit="minutes"),
}


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName="Helvetica", fontSize=9.5, leading=12.5)
    return {
        "body": base,
        "small": ParagraphStyle("small", base, fontSize=8, leading=10, textColor=GREY),
        "label": ParagraphStyle("label", base, fontName="Helvetica-Bold", fontSize=8.5, textColor=GREY),
        "mono": ParagraphStyle("mono", base, fontName="Courier", fontSize=8, leading=10),
        "h1": ParagraphStyle("h1", base, fontName="Helvetica-Bold", fontSize=14, leading=18, textColor=NAVY,
                             spaceAfter=4),
        "h2": ParagraphStyle("h2", base, fontName="Helvetica-Bold", fontSize=10.5, leading=14, textColor=NAVY,
                             spaceBefore=10, spaceAfter=4),
        "kop": ParagraphStyle("kop", base, fontName="Helvetica-Bold", fontSize=15, leading=19, alignment=TA_CENTER),
        "title": ParagraphStyle("title", base, fontName="Helvetica-Bold", fontSize=20, leading=26,
                                alignment=TA_CENTER, textColor=NAVY),
        "center": ParagraphStyle("center", base, alignment=TA_CENTER, fontSize=12, leading=16),
    }


def markup(text: str | None) -> str:
    """User text made safe for Paragraph markup: escaped, line breaks kept."""
    return escape(str(text or "-")).replace("\r\n", "\n").replace("\n", "<br/>")


def wrap_hash(value: str) -> str:
    """A 64-character hash in two lines of 32 (it would otherwise run past the margin)."""
    return "<br/>".join(re.findall(".{1,32}", value or "-"))


class _NumberedCanvas(Canvas):
    """Draws 'Page n of N' once the total is known (every page is kept until save)."""

    def __init__(self, *args, footer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._footer = footer

    def showPage(self):  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        for state in self._pages:
            self.__dict__.update(state)
            self._footer(self, len(self._pages))
            super().showPage()
        super().save()


class _Watermark(Flowable):
    """A faint diagonal word across the page it is placed on (marks unsigned entries)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def wrap(self, *_):
        return 0, 0

    def draw(self):
        canvas = self.canv
        x, y = canvas.absolutePosition(0, 0)
        canvas.saveState()
        canvas.translate(A4[0] / 2 - x, A4[1] / 2 - y)
        canvas.rotate(35)
        canvas.setFont("Helvetica-Bold", 46)
        canvas.setFillColor(colors.Color(0.78, 0.1, 0.1, alpha=0.09))
        canvas.drawCentredString(0, 0, self.text)
        canvas.restoreState()


@dataclass
class Book:
    settings: Settings
    employee: Employee
    year: int
    lang: str

    @property
    def t(self) -> dict[str, str]:
        return TEXT[self.lang]

    def header(self, canvas, _doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 8.5)
        canvas.setFillColor(NAVY)
        top = A4[1] - 12 * mm
        canvas.drawString(MARGIN, top, self.settings.office_name.upper())
        canvas.setFont("Helvetica", 8.5)
        canvas.drawRightString(A4[0] - MARGIN, top, f"{self.t['book']} · {self.year}")
        canvas.setStrokeColor(NAVY)
        canvas.setLineWidth(0.8)
        canvas.line(MARGIN, top - 2.5 * mm, A4[0] - MARGIN, top - 2.5 * mm)
        canvas.restoreState()

    def footer(self, canvas, total: int) -> None:
        canvas.saveState()
        canvas.setStrokeColor(LINE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, 14 * mm, A4[0] - MARGIN, 14 * mm)
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN, 10 * mm, f"{self.employee.name} · NIP {self.employee.nip}")
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, self.t["page"].format(n=canvas.getPageNumber(), total=total))
        canvas.restoreState()


def _fields_table(rows: list[tuple[str, str]], styles, label_width=48 * mm, mono: set[str] = frozenset()) -> Table:
    data = [[Paragraph(escape(label), styles["label"]),
             Paragraph(value if label in mono else markup(value), styles["mono" if label in mono else "body"])]
            for label, value in rows]
    table = Table(data, colWidths=[label_width, A4[0] - 2 * MARGIN - label_width])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
        ("BACKGROUND", (0, 0), (0, -1), SHADE), ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4), ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("BOX", (0, 0), (-1, -1), 0.6, LINE)]))
    return table


def _cover(book: Book, session: Session, entries: list[Entry], issues: list[FollowUp], styles) -> list:
    t, person = book.t, book.employee
    signed = sum(1 for e in entries if e.state == EntryState.SIGNED)
    minutes = sum(e.duration_minutes for e in entries)
    unit = session.get(Unit, person.unit_id) if person.unit_id else None
    identity = [(t["name"], person.name), (t["nip"], person.nip), (t["position"], person.position or "-"),
                (t["unit"], unit.name if unit else "-"),
                (t["supervisor"], person.supervisor.name if person.supervisor else "-"),
                (t["office"], book.settings.office_name), (t["year"], str(book.year))]
    summary = [(t["sessions"], str(len(entries))), (t["signed"], f"{signed} / {len(entries)}"),
               (t["minutes"], f"{minutes} {t['minutes_unit']}"), (t["issues"], str(len(issues))),
               (t["printed"], format_date(clock.now().astimezone(book.settings.tz).date(), book.lang))]
    rule = Table([[""]], colWidths=[A4[0] - 2 * MARGIN], rowHeights=[3])
    rule.setStyle(TableStyle([("LINEABOVE", (0, 0), (-1, -1), 1.6, NAVY), ("LINEBELOW", (0, 0), (-1, -1), 0.5, NAVY)]))
    return [Spacer(1, 18 * mm), Paragraph(markup(book.settings.office_name.upper()), styles["kop"]),
            Spacer(1, 3 * mm), rule, Spacer(1, 32 * mm), Paragraph(escape(t["book"].upper()), styles["title"]),
            Spacer(1, 4 * mm), Paragraph(f"{t['year']} {book.year}", styles["center"]), Spacer(1, 26 * mm),
            _fields_table(identity, styles), Spacer(1, 10 * mm), Paragraph(escape(t["summary"]), styles["h2"]),
            _fields_table(summary, styles), PageBreak()]


def _entry_page(book: Book, number: int, entry: Entry, signature: Signature | None, styles) -> list:
    t, lang, tz = book.t, book.lang, book.settings.tz
    signed = entry.state == EntryState.SIGNED
    colour = "#1E7B34" if signed else "#B42318"
    flow: list = [] if signed else [_Watermark(t["watermark"])]
    flow += [Paragraph(f"{t['session']} {number} · {escape(format_date(entry.session_date, lang))}", styles["h1"]),
             Paragraph(f"{t['period']} {entry.period} · {t['version']} {entry.version} · "
                       f"<font color='{colour}'><b>{escape(t['status_' + entry.state.value])}</b></font>",
                       styles["small"]), Spacer(1, 4 * mm),
             _fields_table(entry_rows(entry, lang), styles)]
    review = [(t["review"], entry.review or "-"), (t["followup_notes"], entry.followup_notes or "-"),
              (t["reviewer_next_steps"], entry.reviewer_next_steps or "-")]
    flow += [KeepTogether([Paragraph(escape(t["review_title"]), styles["h2"]), _fields_table(review, styles)])]
    if signature is not None:
        when = signature.signed_at.astimezone(tz)
        block = [(t["signer"], signature.signer.name),
                 (t["signed_at"], f"{format_date(when.date(), lang)}, {when:%H.%M} {when.tzname()}"),
                 (t["message"], signature.message_id), (t["auth"], signature.auth_verdict),
                 (t["content_hash"], wrap_hash(signature.content_hash)),
                 (t["chain_hash"], wrap_hash(signature.chain_hash))]
        table = _fields_table(block, styles, mono={t["content_hash"], t["chain_hash"]})
    else:
        table = _fields_table([(t["signer"], t["unsigned"])], styles)
    flow += [KeepTogether([Paragraph(escape(t["signature_title"]), styles["h2"]), table]), PageBreak()]
    return flow


def _closing(book: Book, issues: list[FollowUp], styles) -> list:
    t, lang = book.t, book.lang
    flow: list = [Paragraph(escape(t["closing"]), styles["h1"]), Spacer(1, 3 * mm)]
    if not issues:
        flow.append(Paragraph(escape(t["no_issues"]), styles["body"]))
    else:
        head = [Paragraph(escape(t[k]), styles["label"]) for k in ("issue", "to_unit", "opened", "outcome")]
        data = [head]
        for issue in issues:
            outcome = t[issue.state.value]
            if issue.state == FollowUpState.RESOLVED and issue.resolved_at:
                outcome += " · " + format_date(issue.resolved_at.astimezone(book.settings.tz).date(), lang)
            if issue.resolution_note:
                outcome += "\n" + issue.resolution_note
            opened = format_date(issue.created_at.astimezone(book.settings.tz).date(), lang)
            data.append([Paragraph(markup(issue.text), styles["body"]),
                         Paragraph(markup(issue.unit.name), styles["body"]),
                         Paragraph(f"{escape(opened)}<br/><font color='#5F6B7A'>{escape(t['deadline'])}: "
                                   f"{escape(format_date(issue.deadline, lang))}</font>", styles["small"]),
                         Paragraph(markup(outcome), styles["body"])])
        width = A4[0] - 2 * MARGIN
        table = Table(data, colWidths=[width * 0.34, width * 0.22, width * 0.18, width * 0.26], repeatRows=1)
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BACKGROUND", (0, 0), (-1, 0), SHADE),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE), ("BOX", (0, 0), (-1, -1), 0.6, LINE),
            ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
        flow.append(table)
    flow += [Spacer(1, 10 * mm), CondPageBreak(30 * mm), Paragraph(escape(t["closing_note"]), styles["small"])]
    return flow


def book_entries(session: Session, employee: Employee, year: int) -> list[Entry]:
    """The employee's entries of `year`, in session order, signed or not."""
    return list(session.scalars(select(Entry).where(
        Entry.employee_id == employee.id, Entry.period.between(f"{year}-01", f"{year}-12"))
        .order_by(Entry.session_date, Entry.id)))


def book_issues(session: Session, settings: Settings, employee: Employee, entries: list[Entry],
                year: int) -> list[FollowUp]:
    """Issues raised from the year's entries, or by the employee during the year."""
    start = datetime(year, 1, 1, tzinfo=settings.tz)
    end = datetime(year + 1, 1, 1, tzinfo=settings.tz)
    ids = [e.id for e in entries] or [0]
    return list(session.scalars(select(FollowUp).where(
        FollowUp.employee_id == employee.id,
        or_(FollowUp.entry_id.in_(ids), FollowUp.created_at.between(start, end)))
        .order_by(FollowUp.created_at, FollowUp.id)))


def write_book(session: Session, settings: Settings, employee: Employee, year: int, path: Path) -> int:
    """Write `employee`'s diary book for `year` to `path`; returns the number of pages."""
    book = Book(settings, employee, year, employee.language.value)
    styles = _styles()
    entries = book_entries(session, employee, year)
    issues = book_issues(session, settings, employee, entries, year)
    signatures = {(s.entry_id, s.entry_version): s for s in session.scalars(
        select(Signature).where(Signature.entry_id.in_([e.id for e in entries] or [0])))}
    story = _cover(book, session, entries, issues, styles)
    for number, entry in enumerate(entries, start=1):
        story += _entry_page(book, number, entry, signatures.get((entry.id, entry.version)), styles)
    story += _closing(book, issues, styles)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # invariant=1: no creation date or random id, so the same diary gives the same bytes.
    doc = BaseDocTemplate(str(path), pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=24 * mm,
                          bottomMargin=20 * mm, title=f"{book.t['book']} {year} - {employee.name}",
                          author=settings.office_name, subject=f"NIP {employee.nip}", creator="cld", invariant=1)
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=book.header)])
    pages = []

    def make_canvas(*args, **kwargs):
        canvas = _NumberedCanvas(*args, footer=book.footer, **kwargs)
        pages.append(canvas)
        return canvas

    doc.build(story, canvasmaker=make_canvas)
    return len(pages[-1]._pages)


def safe_filename(text: str) -> str:
    """A file name part made of letters, digits and dashes."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "x"


def book_filename(employee: Employee, year: int) -> str:
    """`buku-coaching-2026-199002142012011003-Agus-Setiawan.pdf`."""
    return f"buku-coaching-{year}-{employee.nip}-{safe_filename(employee.name.split(',')[0])}.pdf"


def export_unit(session: Session, settings: Settings, unit: Unit, year: int, folder: Path) -> list[Path]:
    """One diary book per active member of `unit` into `folder`."""
    folder = Path(folder)
    written = []
    for person in session.scalars(select(Employee).where(Employee.unit_id == unit.id, Employee.active)
                                  .order_by(Employee.name)):
        target = folder / book_filename(person, year)
        write_book(session, settings, person, year, target)
        written.append(target)
    return written
