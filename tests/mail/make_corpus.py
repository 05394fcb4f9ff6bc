"""Write the golden corpus: replies shaped the way our users' mail clients shape them.

Run `python tests/mail/make_corpus.py` after changing a case. Each case carries hand-written
expectations (kind, the fields that matter, which fields have errors); they are checked against the
parser before NAME.expected.json is written, so a golden file never merely records what the code did.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))

from clients import (  # noqa: E402
    CLD, OFFICE, PROMPT_TOKEN, Person, Reply, apple_mail, crlf, followup_to, gmail, headers, html_only, iphone,
    outlook, prompt_to, quote, signoff_to, thunderbird, yahoo,
)

from workflow.mail.dryrun import parse_message  # noqa: E402

BUDI = Person("Budi Santoso", f"budi.santoso@{OFFICE}")
SITI = Person("Siti Rahmawati", f"siti.rahmawati@{OFFICE}")
ANDI = Person("Andi Pratama", f"andi.pratama@{OFFICE}")
DEWI = Person("Dewi Lestari", "dewi.lestari@mail.example.test")
RINA = Person("Rina Marlina", f"rina.marlina@{OFFICE}")
AGUS = Person("Agus Setiawan", f"agus.setiawan@{OFFICE}")
YOHANES = Person("Yohanes Sitorus", f"yohanes.sitorus@{OFFICE}")
MADE = Person("I Made Wirawan", "made.wirawan@mail.example.test")
PUTRI = Person("Putri Handayani", f"putri.handayani@{OFFICE}")
FAJAR = Person("Fajar Nugroho", f"fajar.nugroho@{OFFICE}")
NUR = Person("Nur Aini", "nur.aini@mail.example.test")
HENDRA = Person("Hendra Gunawan", f"hendra.gunawan@{OFFICE}")
WAHYU = Person("Wahyu Hidayat", f"wahyu.hidayat@{OFFICE}")
LIA = Person("Lia Kusumawati", "lia.kusumawati@mail.example.test")
TEGUH = Person("Teguh Prasetyo", f"teguh.prasetyo@{OFFICE}")
MARIA = Person("Maria Simanjuntak", f"maria.simanjuntak@{OFFICE}")
KETUT = Person("Ketut Sudarsana", "ketut.sudarsana@mail.example.test")
DIAN = Person("Dian Permata", f"dian.permata@{OFFICE}")
RATNA = Person("Ratna Dewi", f"ratna.dewi@{OFFICE}")  # a supervisor
BAMBANG = Person("Bambang Wijaya", f"bambang.wijaya@{OFFICE}")  # a supervisor
UMUM = Person("Subbagian Umum", f"umum@{OFFICE}")  # a unit mailbox

FULL_FORM = """\
Tanggal sesi / Session date: 02/12/2026
Jam / Time: 09.00-10.00
Durasi (menit) / Duration (minutes): 60
Mentor: Ratna Dewi
Topik / Topic: Penilaian barang sitaan untuk lelang
Tujuan pembelajaran / Learning objectives: Memahami pendekatan pasar dan pendekatan biaya
Catatan dan hasil pembelajaran / Notes and learning outcomes:
Membahas contoh penilaian kendaraan dinas.
Mencoba menghitung nilai limit bersama mentor.
Sumber referensi / References: PMK tentang Petunjuk Pelaksanaan Lelang
Penilaian / Rating: 1
Isu tindak lanjut / Follow-up issues:
- Akses aplikasi penilaian belum aktif [Unit: Subbagian Umum]
Rencana selanjutnya / Next steps: Praktik penilaian mandiri
Kebutuhan / Needs: -"""

CASES: list[dict] = []


def case(folder: str, name: str, raw: bytes, expect: dict, args: dict | None = None) -> None:
    """Register one fixture: where it goes, its bytes, and what the parser must make of it."""
    CASES.append({"folder": folder, "name": name, "raw": raw, "expect": expect, "args": args})


def reply(sender: Person, original, text: str, date: str, mid: str, **more) -> Reply:
    return Reply(sender, original, text, date, mid, **more)



case("entry", "outlook_desktop_en", outlook(reply(
    BUDI, prompt_to(BUDI), "Dear CLD team,\n\nPlease find my notes below.\n\n" + FULL_FORM + "\n\nRegards,\nBudi",
    "Wed, 2 Dec 2026 14:05:11 +0700", "<SG2PR06MB5432B1D2C3E4F5A6B7C8D9E0@SG2PR06MB5432.apcprd06.prod.outlook.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-02", "start_time": "09:00", "end_time": "10:00", "duration_minutes": 60,
                "mentor": "Ratna Dewi", "rating": "very_useful", "needs": None, "over_hour": False,
                "notes": "Membahas contoh penilaian kendaraan dinas.\nMencoba menghitung nilai limit bersama mentor.",
                "followups": [{"text": "Akses aplikasi penilaian belum aktif", "unit": "Subbagian Umum"}]}})

case("entry", "outlook_desktop_id", outlook(reply(
    SITI, prompt_to(SITI), """Selamat siang,

Tanggal sesi / Session date: 3 Desember 2026
Jam / Time: 13.00 - 14.00
Durasi (menit) / Duration (minutes):
Mentor: Bambang Wijaya
Topik / Topic: Penyusunan risalah lelang
Tujuan pembelajaran / Learning objectives: Mampu menyusun risalah lelang sesuai ketentuan
Catatan dan hasil pembelajaran / Notes and learning outcomes: Mempelajari bagian kepala, badan dan kaki risalah.
Sumber referensi / References: Contoh risalah lelang tahun 2025
Penilaian / Rating: Cukup bermanfaat
Isu tindak lanjut / Follow-up issues: tidak ada
Rencana selanjutnya / Next steps: Menyusun risalah secara mandiri pada lelang berikutnya
Kebutuhan / Needs:

Terima kasih,
Siti Rahmawati""", "Thu, 3 Dec 2026 15:20:43 +0700",
    "<KL1PR0601MB4321C0FFEE1234@KL1PR0601MB4321.apcprd06.prod.outlook.example>"), locale="id"),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-03", "start_time": "13:00", "end_time": "14:00", "duration_minutes": 60,
                "rating": "fairly_useful", "followups": [], "references": "Contoh risalah lelang tahun 2025"}})

case("entry", "outlook_web_iso8859", outlook(reply(
    ANDI, prompt_to(ANDI), """Tanggal sesi / Session date: 04-12-2026
Jam / Time: 10.00-10.45
Durasi (menit) / Duration (minutes): ± 45 menit
Mentor: Pak André Siahaan
Topik / Topic: Pemeriksaan dokumen persyaratan lelang
Tujuan pembelajaran / Learning objectives: Mengenali dokumen yang wajib ada
Catatan dan hasil pembelajaran / Notes and learning outcomes: Résumé: daftar periksa dokumen kini saya pahami.
Sumber referensi / References: Daftar periksa internal seksi
Penilaian / Rating: 2
Isu tindak lanjut / Follow-up issues: -
Rencana selanjutnya / Next steps: -
Kebutuhan / Needs: -""", "Fri, 4 Dec 2026 11:02:19 +0700",
    "<TYZPR06MB6543E2A1F0@TYZPR06MB6543.apcprd06.prod.outlook.example>"), charset="iso-8859-1", web=True),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-04", "duration_minutes": 45, "mentor": "Pak André Siahaan",
                "notes": "Résumé: daftar periksa dokumen kini saya pahami.", "rating": "fairly_useful",
                "next_steps": None}})

case("entry", "outlook_windows1252", outlook(reply(
    RINA, prompt_to(RINA), """Tanggal sesi / Session date: 7 Des 2026
Jam / Time: 09.00–10.00
Mentor: Ratna Dewi
Topik / Topic: “Aanwijzing” lelang eksekusi hak tanggungan
Catatan dan hasil pembelajaran / Notes and learning outcomes: Belajar menjawab pertanyaan peserta tentang ‘objek’ lelang.
Penilaian / Rating: Sangat bermanfaat / Very useful""", "Mon, 7 Dec 2026 16:40:00 +0700",
    "<SG2PR06MB5432A0B0C0D0@SG2PR06MB5432.apcprd06.prod.outlook.example>"), charset="windows-1252"),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-07", "start_time": "09:00", "end_time": "10:00", "duration_minutes": 60,
                "topic": "“Aanwijzing” lelang eksekusi hak tanggungan", "rating": "very_useful"}})

_agus_prompt = prompt_to(AGUS)
_agus_filled = _agus_prompt.body.replace(
    "Tanggal sesi / Session date:", "Tanggal sesi / Session date: 08/12/2026").replace(
    "Jam / Time:", "Jam / Time: 14.00-15.00").replace(
    "Mentor:", "Mentor: Bambang Wijaya").replace(
    "Topik / Topic:", "Topik / Topic: Penetapan nilai limit").replace(
    "Catatan dan hasil pembelajaran / Notes and learning outcomes:",
    "Catatan dan hasil pembelajaran / Notes and learning outcomes:\nNilai limit ditetapkan penjual berdasarkan "
    "penilaian.\nKami membandingkan dua laporan penilai.").replace(
    "Penilaian / Rating:", "Penilaian / Rating: 2")
case("entry", "outlook_inline_filled", outlook(reply(
    AGUS, dataclasses.replace(_agus_prompt, body=_agus_filled), "Pak, isian saya langsung di formulir di bawah.",
    "Tue, 8 Dec 2026 15:30:00 +0700", "<SG2PR06MB5432AB12CD34@SG2PR06MB5432.apcprd06.prod.outlook.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-08", "duration_minutes": 60, "topic": "Penetapan nilai limit",
                "notes": "Nilai limit ditetapkan penjual berdasarkan penilaian.\nKami membandingkan dua laporan penilai.",
                "rating": "fairly_useful"}})

case("entry", "outlook_auto_response_suppress", outlook(reply(
    YOHANES, prompt_to(YOHANES), """Session date: 09/12/2026
Time: 08.00-09.00
Topic: Piutang negara: penelusuran aset debitur
Notes and learning outcomes: Learned to read land registry extracts.
Rating: 3""", "Wed, 9 Dec 2026 09:15:00 +0700",
    "<SG2PR06MB5432EE11FF22@SG2PR06MB5432.apcprd06.prod.outlook.example>",
    extra_headers=[("X-Auto-Response-Suppress", "All")])),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-09", "duration_minutes": 60, "rating": "ordinary", "mentor": None}})

case("entry", "gmail_web_en", gmail(reply(
    DEWI, prompt_to(DEWI), """Hi,

Session date / Tanggal sesi: December 3, 2026
Time / Jam: 9:30 - 10:30
Mentor: Ratna Dewi
Topic / Topik: Reading valuation reports
Learning objectives / Tujuan pembelajaran: Spot the key assumptions in a report
Notes and learning outcomes / Catatan dan hasil pembelajaran:
We went through two reports line by line.
I now check the comparables first.
References / Sumber referensi: SPI 2018
Rating / Penilaian: Very useful
Follow-up issues / Isu tindak lanjut: none
Next steps / Rencana selanjutnya: Review one report on my own

Thanks,
Dewi""", "Thu, 3 Dec 2026 19:12:30 +0700", "<CAKx9QmF2b7Lr3sG1w0pZx8yVbN4cQe5H@mail.gmail.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-03", "start_time": "09:30", "end_time": "10:30", "rating": "very_useful",
                "notes": "We went through two reports line by line.\nI now check the comparables first.",
                "next_steps": "Review one report on my own", "followups": []}})

case("entry", "gmail_web_id", gmail(reply(
    MADE, prompt_to(MADE), """Tanggal sesi / Session date: 3 Desember 2026
Jam / Time: pukul 09.00 s.d. 10.00
Mentor: Bambang Wijaya
Topik / Topic: Lelang noneksekusi sukarela
Tujuan pembelajaran / Learning objectives: Memahami alur permohonan lelang sukarela
Catatan dan hasil pembelajaran / Notes and learning outcomes: Membahas syarat permohonan dan jadwal pengumuman.
Sumber referensi / References:
Penilaian / Rating: 1 - Sangat bermanfaat
Isu tindak lanjut / Follow-up issues:
- Template surat penetapan jadwal belum diperbarui (Unit: Seksi Pelayanan Lelang)
Rencana selanjutnya / Next steps: Mendampingi satu permohonan lelang sukarela""",
    "Fri, 4 Dec 2026 07:45:02 +0700", "<CAJ7vV0aS9cE1pW3mZr2Lx6yHq8nT4bG@mail.gmail.example>"), locale="id"),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-03", "start_time": "09:00", "end_time": "10:00", "rating": "very_useful",
                "references": None,
                "followups": [{"text": "Template surat penetapan jadwal belum diperbarui",
                               "unit": "Seksi Pelayanan Lelang"}]}})

case("entry", "gmail_mobile_id_only_labels", gmail(reply(
    PUTRI, prompt_to(PUTRI), """Tanggal sesi: 4 Des 2026
Durasi: 45 menit
Mentor: Ratna Dewi
Topik: Pengelolaan barang milik negara
Catatan dan hasil pembelajaran: Belajar tata cara penghapusan BMN rusak berat
Penilaian: Sangat bermanfaat
Isu tindak lanjut: tidak ada""", "Fri, 4 Dec 2026 20:31:45 +0700",
    "<CAGm7xPq1W2e3R4t5Y6u7I8o9P0aSdFgH@mail.gmail.example>"), locale="id", mobile=True),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-04", "duration_minutes": 45, "start_time": None,
                "rating": "very_useful", "followups": []}})

_fajar_prompt = prompt_to(FAJAR)
_fajar_quote = quote(_fajar_prompt.body).replace(
    "> Tanggal sesi / Session date:", "> Tanggal sesi / Session date: 2/12/2026").replace(
    "> Jam / Time:", "> Jam / Time: 10.00-11.00").replace(
    "> Topik / Topic:", "> Topik / Topic: Mediasi keberatan lelang").replace(
    "> Catatan dan hasil pembelajaran / Notes and learning outcomes:",
    "> Catatan dan hasil pembelajaran / Notes and learning outcomes:\n"
    "Mendengarkan rekaman mediasi dan mencatat pola keberatan.").replace(
    "> Penilaian / Rating:", "> Penilaian / Rating: 2")
case("entry", "gmail_inline_quoted", gmail(reply(
    FAJAR, _fajar_prompt, "Sudah saya isi di bawah ya Bu.", "Wed, 2 Dec 2026 13:00:00 +0700",
    "<CAFn2kL9pQ8rS7tU6vW5xY4zA3bC2dE1f@mail.gmail.example>"), locale="id", quoted_body=_fajar_quote),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-02", "duration_minutes": 60, "topic": "Mediasi keberatan lelang",
                "notes": "Mendengarkan rekaman mediasi dan mencatat pola keberatan.", "rating": "fairly_useful"}})

case("entry", "gmail_en_only_labels", gmail(reply(
    NUR, prompt_to(NUR), """Session date: Dec 7, 2026
Time: 2-3 pm
Mentor: Bambang Wijaya
Topic: Handling auction participant complaints
Learning objectives: Respond within the service standard
Notes and learning outcomes: Drafted two reply letters and got feedback.
References: Service standard handbook
Rating: Fairly useful
Follow-up issues: n/a
Next steps: Draft replies for real cases
Needs: A template library for reply letters""", "Mon, 7 Dec 2026 21:05:00 +0700",
    "<CAHb3mN7oP6qR5sT4uV3wX2yZ1aB0cD9e@mail.gmail.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-07", "start_time": "14:00", "end_time": "15:00", "duration_minutes": 60,
                "rating": "fairly_useful", "needs": "A template library for reply letters", "followups": []}})

case("entry", "iphone_en", iphone(reply(
    HENDRA, prompt_to(HENDRA), """Session date: 2 Dec 2026
Time: 08.30-09.15
Topic / Topik: Digital auction platform walkthrough
Notes and learning outcomes: Practised creating an auction listing in the test environment.
Rating: 2

Sent from my iPhone""", "Wed, 2 Dec 2026 09:40:12 +0700", "<8C1F2A3B-4D5E-6F70-8192-A3B4C5D6E7F8@office.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-02", "duration_minutes": 45, "rating": "fairly_useful",
                "notes": "Practised creating an auction listing in the test environment."}})

case("entry", "iphone_id", iphone(reply(
    WAHYU, prompt_to(WAHYU), """Tanggal sesi / Session date: 1 Desember 2026
Durasi (menit) / Duration (minutes): 1 jam
Mentor: Ratna Dewi
Topik / Topic: Kode etik pejabat lelang
Catatan dan hasil pembelajaran / Notes and learning outcomes: Diskusi studi kasus benturan kepentingan.
Penilaian / Rating: 1

Dikirim dari iPhone saya""", "Tue, 1 Dec 2026 17:03:55 +0700", "<A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF@office.example>"),
    locale="id"),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-01", "duration_minutes": 60, "rating": "very_useful",
                "topic": "Kode etik pejabat lelang"}})

case("entry", "apple_mail_flowed_delsp", apple_mail(reply(
    LIA, prompt_to(LIA), """Tanggal sesi / Session date: 2026-12-04
Jam / Time: 15.00-16.00
Mentor: Bambang Wijaya
Topik / Topic: Penyusunan laporan pelaksanaan lelang bulanan untuk Kantor Wilayah
Catatan dan hasil pembelajaran / Notes and learning outcomes: Kami menyusun laporan bulan November bersama, memeriksa angka pokok lelang, bea lelang dan PNBP, lalu mencocokkannya dengan data aplikasi.
Penilaian / Rating: Cukup bermanfaat / Fairly useful""", "Fri, 4 Dec 2026 16:30:00 +0700",
    "<5E6F7A8B-9C0D-4E1F-A2B3-C4D5E6F7A8B9@mail.example.test>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"topic": "Penyusunan laporan pelaksanaan lelang bulanan untuk Kantor Wilayah",
                "notes": "Kami menyusun laporan bulan November bersama, memeriksa angka pokok lelang, bea lelang "
                         "dan PNBP, lalu mencocokkannya dengan data aplikasi.",
                "rating": "fairly_useful", "session_date": "2026-12-04"}})

case("entry", "thunderbird_flowed", thunderbird(reply(
    TEGUH, prompt_to(TEGUH), """Tanggal sesi / Session date: 07/12/2026
Jam / Time: 09.00-10.00
Mentor: Ratna Dewi
Topik / Topic: Penagihan piutang negara
Tujuan pembelajaran / Learning objectives: Memahami tahapan penagihan mulai dari surat paksa sampai pelelangan barang jaminan debitur
Catatan dan hasil pembelajaran / Notes and learning outcomes: Membaca berkas satu debitur dari awal dan menandai dokumen yang kurang lengkap untuk ditindaklanjuti.
Penilaian / Rating: 1""", "Mon, 7 Dec 2026 10:45:00 +0700", "<0b9d6f1e-3c2a-4e8f-9a7b-1c2d3e4f5a6b@office.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"objectives": "Memahami tahapan penagihan mulai dari surat paksa sampai pelelangan barang "
                              "jaminan debitur",
                "notes": "Membaca berkas satu debitur dari awal dan menandai dokumen yang kurang lengkap untuk "
                         "ditindaklanjuti.",
                "rating": "very_useful"}})

case("entry", "thunderbird_signature", thunderbird(reply(
    PUTRI, prompt_to(PUTRI), """Tanggal sesi / Session date: 8/12/2026
Jam / Time: 13.30-14.15
Topik / Topic: Penyelesaian berkas kasus piutang macet
Catatan dan hasil pembelajaran / Notes and learning outcomes: Mengurutkan berkas berdasarkan umur piutang.
Penilaian / Rating: 3 (Biasa saja)""", "Tue, 8 Dec 2026 14:50:00 +0700",
    "<7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6@office.example>"),
    signature="Putri Handayani\nSeksi Piutang Negara\nKPKNL Jakarta Contoh"),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"duration_minutes": 45, "rating": "ordinary",
                "notes": "Mengurutkan berkas berdasarkan umur piutang."}})

case("entry", "html_only", html_only(reply(
    MARIA, prompt_to(MARIA), """Tanggal sesi / Session date: 09/12/2026
Jam / Time: 10.00-11.00
Mentor: Bambang Wijaya
Topik / Topic: Verifikasi dokumen &amp; objek lelang
Catatan dan hasil pembelajaran / Notes and learning outcomes: Mengecek kesesuaian sertifikat dengan objek di lapangan.
Penilaian / Rating: Very useful""".replace("&amp;", "&"), "Wed, 9 Dec 2026 11:20:00 +0700",
    "<1739284756.48213.1765253999999.JavaMail.zimbra@office.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"topic": "Verifikasi dokumen & objek lelang", "rating": "very_useful", "duration_minutes": 60,
                "notes": "Mengecek kesesuaian sertifikat dengan objek di lapangan."}})

case("entry", "yahoo_base64", yahoo(reply(
    KETUT, prompt_to(KETUT), """Tanggal sesi / Session date: 5 Desember 2026
Jam / Time: 9-10
Mentor: Ratna Dewi
Topik / Topic: Lelang barang gratifikasi
Catatan dan hasil pembelajaran / Notes and learning outcomes: Memahami penetapan status dan penjualan barang gratifikasi.
Penilaian / Rating: Sangat bermanfaat""", "Sat, 5 Dec 2026 08:12:00 +0700",
    "<1204981723.3412877.1764900000000@mail.yahoo.example>")),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-05", "start_time": "09:00", "end_time": "10:00", "rating": "very_useful"}})

case("entry", "missing_fields", gmail(reply(
    DIAN, prompt_to(DIAN), """Tanggal sesi / Session date: 03/12/2026
Jam / Time: 09.00-10.00
Mentor: Ratna Dewi""", "Thu, 3 Dec 2026 12:00:00 +0700", "<CAPq1w2e3r4t5y6u7i8o9p0aSdFgHjKlZ@mail.gmail.example>"),
    locale="id"),
    {"kind": "entry", "errors": ["topic", "notes", "rating"], "warnings": [],
     "fields": {"session_date": "2026-12-03", "topic": None, "notes": None, "rating": None}})

case("entry", "bad_rating", gmail(reply(
    BUDI, prompt_to(BUDI), """Tanggal sesi / Session date: 04/12/2026
Jam / Time: 09.00-10.00
Topik / Topic: Penyusunan pengumuman lelang
Catatan dan hasil pembelajaran / Notes and learning outcomes: Memperbaiki format pengumuman di surat kabar.
Penilaian / Rating: mantap sekali""", "Fri, 4 Dec 2026 13:13:13 +0700",
    "<CAB0bud1Rat1ngQw3rtYu1oP4sDfGhJkL@mail.gmail.example>"), locale="id"),
    {"kind": "entry", "errors": ["rating"], "warnings": [], "fields": {"rating": None, "topic":
                                                                        "Penyusunan pengumuman lelang"}})

case("entry", "date_outside_period", outlook(reply(
    ANDI, prompt_to(ANDI), """Tanggal sesi / Session date: 27/11/2026
Jam / Time: 09.00-10.00
Topik / Topic: Evaluasi lelang bulan lalu
Catatan dan hasil pembelajaran / Notes and learning outcomes: Meninjau tiga lelang yang ditunda.
Penilaian / Rating: 3""", "Wed, 2 Dec 2026 10:00:00 +0700",
    "<SG2PR06MB5432DD00EE11@SG2PR06MB5432.apcprd06.prod.outlook.example>"), locale="id"),
    {"kind": "entry", "errors": ["session_date"], "warnings": [], "fields": {"session_date": "2026-11-27"}})

case("entry", "ninety_minutes", outlook(reply(
    SITI, prompt_to(SITI), """Tanggal sesi / Session date: 09/12/2026
Jam / Time: 13.00-14.30
Mentor: Ratna Dewi
Topik / Topic: Simulasi lelang melalui internet
Catatan dan hasil pembelajaran / Notes and learning outcomes: Menjalankan simulasi penawaran dari awal sampai penetapan pemenang.
Penilaian / Rating: 1""", "Wed, 9 Dec 2026 15:00:00 +0700",
    "<KL1PR0601MB4321AB90@KL1PR0601MB4321.apcprd06.prod.outlook.example>"), locale="id"),
    {"kind": "entry", "errors": [], "warnings": ["duration_minutes"],
     "fields": {"duration_minutes": 90, "over_hour": True, "start_time": "13:00", "end_time": "14:30"}})

case("entry", "future_date", gmail(reply(
    HENDRA, prompt_to(HENDRA), """Tanggal sesi / Session date: 10/12/2026
Jam / Time: 09.00-10.00
Topik / Topic: Rencana sesi minggu depan
Catatan dan hasil pembelajaran / Notes and learning outcomes: Akan membahas lelang kendaraan.
Penilaian / Rating: 3""", "Fri, 4 Dec 2026 08:00:00 +0700", "<CAHg3nd4Fu7uR3dAt3Qw3rTyU1oP@mail.gmail.example>"),
    locale="id"),
    {"kind": "entry", "errors": ["session_date"], "warnings": [], "fields": {"session_date": "2026-12-10"}})

case("entry", "gmail_bold_bullets", gmail(reply(
    DEWI, prompt_to(DEWI), """Berikut isian saya:

- *Tanggal sesi / Session date:* 8 Desember 2026
- *Jam / Time：* 09.00 - 10.00
- *Topik / Topic:*
  Pelaporan PNBP lelang
- *Catatan dan hasil pembelajaran / Notes and learning outcomes:*
  Memahami jadwal setor bea lelang.
  Mengisi formulir rekonsiliasi.
- *Penilaian / Rating:* 1
- *Isu tindak lanjut / Follow-up issues:*
  - Formulir rekonsiliasi versi lama masih dipakai [Unit: Seksi Kepatuhan Internal]
  - Jadwal rekonsiliasi bentrok dengan lelang [Unit Seksi Pelayanan Lelang]""",
    "Tue, 8 Dec 2026 18:30:00 +0700", "<CAKx9QmF2b7Lr3sG1w0pZx8yVbN4cQe5J@mail.gmail.example>"), locale="id"),
    {"kind": "entry", "errors": [], "warnings": [],
     "fields": {"session_date": "2026-12-08", "topic": "Pelaporan PNBP lelang",
                "notes": "Memahami jadwal setor bea lelang.\nMengisi formulir rekonsiliasi.",
                "followups": [
                    {"text": "Formulir rekonsiliasi versi lama masih dipakai", "unit": "Seksi Kepatuhan Internal"},
                    {"text": "Jadwal rekonsiliasi bentrok dengan lelang", "unit": "Seksi Pelayanan Lelang"}]}})


case("decision", "outlook_id_setuju_review", outlook(reply(
    RATNA, signoff_to(RATNA, BUDI), """SETUJU

Reviu / Review: Catatan sudah lengkap dan jelas. Pertahankan.
Catatan tindak lanjut / Follow-up notes: Mohon Subbagian Umum segera mengaktifkan akses aplikasi.

Salam,
Ratna Dewi
Kepala Seksi Pelayanan Lelang""", "Thu, 3 Dec 2026 13:02:00 +0700",
    "<SG2PR06MB5432RA7NA01@SG2PR06MB5432.apcprd06.prod.outlook.example>"), locale="id"),
    {"kind": "decision", "errors": [], "warnings": [],
     "fields": {"decision": "approve", "review": "Catatan sudah lengkap dan jelas. Pertahankan.",
                "followup_notes": "Mohon Subbagian Umum segera mengaktifkan akses aplikasi.", "followups": []}})

case("decision", "gmail_revisi_reasons", gmail(reply(
    BAMBANG, signoff_to(BAMBANG, SITI), """REVISI - tanggal sesi seharusnya 3 Desember, bukan 2 Desember.
Mohon juga lengkapi sumber referensinya.

Terima kasih""", "Thu, 3 Dec 2026 16:45:00 +0700", "<CAMb4mbAnGrEv1s1QwErTyUiOpAsDfGh@mail.gmail.example>"),
    locale="id"),
    {"kind": "decision", "errors": [], "warnings": [],
     "fields": {"decision": "revise", "review": "tanggal sesi seharusnya 3 Desember, bukan 2 Desember.\n"
                                                "Mohon juga lengkapi sumber referensinya."}})

case("decision", "iphone_tidak_setuju", iphone(reply(
    RATNA, signoff_to(RATNA, BUDI), "Tidak setuju, sesi ini belum dilaksanakan.\n\nDikirim dari iPhone saya",
    "Thu, 3 Dec 2026 19:20:00 +0700", "<F0E1D2C3-B4A5-4968-8776-655443322110@office.example>"), locale="id"),
    {"kind": "decision", "errors": ["decision"], "warnings": [], "fields": {"decision": None}})

case("decision", "outlook_en_approved_followups", outlook(reply(
    BAMBANG, signoff_to(BAMBANG, DEWI), """Approved. A well documented session.

Follow-up issues:
- Valuation app access still pending [Unit: Subbagian Umum]
Next steps: Shadow a field valuation next month.

Regards,
Bambang""", "Fri, 4 Dec 2026 08:10:00 +0700", "<SG2PR06MB5432BA3BA7G@SG2PR06MB5432.apcprd06.prod.outlook.example>")),
    {"kind": "decision", "errors": [], "warnings": [],
     "fields": {"decision": "approve", "review": "A well documented session.",
                "followups": [{"text": "Valuation app access still pending", "unit": "Subbagian Umum"}],
                "next_steps": "Shadow a field valuation next month."}})

case("decision", "iphone_setuju_exclaim", iphone(reply(
    RATNA, signoff_to(RATNA, AGUS), "Setuju!\n\nDikirim dari iPhone saya", "Thu, 3 Dec 2026 20:00:00 +0700",
    "<11223344-5566-4778-899A-ABBCCDDEEFF0@office.example>"), locale="id"),
    {"kind": "decision", "errors": [], "warnings": [], "fields": {"decision": "approve", "review": None}})

case("decision", "gmail_quoted_only", gmail(reply(
    BAMBANG, signoff_to(BAMBANG, NUR), "", "Fri, 4 Dec 2026 09:00:00 +0700",
    "<CAMb4mbAnEmPtYr3pLyQwErTyUiOp@mail.gmail.example>")),
    {"kind": "decision", "errors": ["decision"], "warnings": [], "fields": {"decision": None}},
    args={"as_kind": "decision"})

case("decision", "outlook_word_only_in_quote", outlook(reply(
    RATNA, signoff_to(RATNA, MADE), "Sudah saya baca, nanti saya kabari.", "Fri, 4 Dec 2026 09:30:00 +0700",
    "<SG2PR06MB5432QU0T3D@SG2PR06MB5432.apcprd06.prod.outlook.example>"), locale="id"),
    {"kind": "decision", "errors": ["decision"], "warnings": [], "fields": {"decision": None}},
    args={"as_kind": "decision"})

case("decision", "html_only_setuju", html_only(reply(
    BAMBANG, signoff_to(BAMBANG, MARIA), "SETUJU. Terima kasih atas laporannya.", "Thu, 10 Dec 2026 08:00:00 +0700",
    "<1739284756.48299.1765328400000.JavaMail.zimbra@office.example>")),
    {"kind": "decision", "errors": [], "warnings": [],
     "fields": {"decision": "approve", "review": "Terima kasih atas laporannya."}})

case("decision", "gmail_setuju_atau_revisi", gmail(reply(
    RATNA, signoff_to(RATNA, KETUT), "Setuju atau revisi ya? Saya masih ragu soal tanggalnya.",
    "Sat, 5 Dec 2026 10:00:00 +0700", "<CARatnaRagu1QwErTyUiOpAsDfGhJk@mail.gmail.example>"), locale="id"),
    {"kind": "decision", "errors": ["decision"], "warnings": [], "fields": {"decision": None}})


case("followup", "outlook_id_proses_target", outlook(reply(
    UMUM, followup_to(UMUM), """PROSES
Target: 18/12/2026
Sedang menunggu persetujuan akun dari Kantor Pusat.

Salam,
Subbagian Umum""", "Fri, 4 Dec 2026 10:30:00 +0700", "<SG2PR06MB5432UMUM01@SG2PR06MB5432.apcprd06.prod.outlook.example>"),
    locale="id"),
    {"kind": "followup", "errors": [], "warnings": [],
     "fields": {"status": "in_progress", "target_date": "2026-12-18",
                "note": "Sedang menunggu persetujuan akun dari Kantor Pusat."}})

case("followup", "gmail_selesai_note", gmail(reply(
    UMUM, followup_to(UMUM), "SELESAI - akses aplikasi penilaian untuk Budi Santoso sudah aktif sejak 7 Desember 2026.",
    "Mon, 7 Dec 2026 14:00:00 +0700", "<CAUmUmSeLeSa1QwErTyUiOpAsDfGhJk@mail.gmail.example>"), locale="id"),
    {"kind": "followup", "errors": [], "warnings": [],
     "fields": {"status": "resolved", "target_date": None,
                "note": "akses aplikasi penilaian untuk Budi Santoso sudah aktif sejak 7 Desember 2026."}})

case("followup", "iphone_belum_selesai", iphone(reply(
    UMUM, followup_to(UMUM), "Belum selesai, masih menunggu vendor.\n\nDikirim dari iPhone saya",
    "Tue, 8 Dec 2026 09:00:00 +0700", "<99887766-5544-4332-8110-FFEEDDCCBBAA@office.example>"), locale="id"),
    {"kind": "followup", "errors": ["status"], "warnings": [], "fields": {"status": None}})


case("needs", "gmail_needs_only", gmail(reply(
    NUR, prompt_to(NUR), "Kebutuhan / Needs: Pelatihan aplikasi lelang dan buku panduan penilaian.\n\nTerima kasih",
    "Wed, 2 Dec 2026 08:00:00 +0700", "<CANuRa1n1NeEdSQwErTyUiOpAsDfGh@mail.gmail.example>"), locale="id"),
    {"kind": "needs", "errors": [], "warnings": [],
     "fields": {"needs": "Pelatihan aplikasi lelang dan buku panduan penilaian."}})



def auto_reply_outlook(sender: Person, subject_prefix: str, text: str, date: str, mid: str, lang: str) -> bytes:
    o = prompt_to(sender)
    head = [
        ("Received", f"from SG2PR06MB5432.apcprd06.prod.outlook.example by mx1.{OFFICE} with ESMTPS; {date}"),
        ("From", f"{sender.name} <{sender.address}>"),
        ("To", f'"{CLD.name}" <{o.reply_to}>'),
        ("Subject", subject_prefix + o.subject),
        ("Thread-Topic", o.subject),
        ("Date", date),
        ("Message-ID", mid),
        ("In-Reply-To", o.message_id),
        ("References", o.message_id),
        ("Auto-Submitted", "auto-generated"),
        ("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent"),
        ("X-Auto-Response-Suppress", "All"),
        ("Content-Language", lang),
        ("Content-Type", "text/plain; charset=\"utf-8\""),
        ("Content-Transfer-Encoding", "7bit"),
        ("MIME-Version", "1.0"),
    ]
    return crlf(headers(head) + "\n" + text + "\n")


case("auto_reply", "outlook_ooo_en", auto_reply_outlook(
    YOHANES, "Automatic reply: ", "I am out of the office until 14 December 2026 with limited access to e-mail.",
    "Tue, 1 Dec 2026 08:00:09 +0700", "<SG2PR06MB5432OOO0EN@SG2PR06MB5432.apcprd06.prod.outlook.example>", "en-US"),
    {"kind": "auto_reply", "errors": [], "warnings": [],
     "fields": {"screened_as": "auto_reply", "bounced_recipients": []}})

case("auto_reply", "outlook_ooo_id", auto_reply_outlook(
    SITI, "Balasan Otomatis: ", "Saya sedang cuti sampai dengan 11 Desember 2026. Untuk keperluan mendesak "
    "hubungi Seksi Pelayanan Lelang.", "Tue, 1 Dec 2026 08:00:12 +0700",
    "<KL1PR0601MB4321OOOID@KL1PR0601MB4321.apcprd06.prod.outlook.example>", "id-ID"),
    {"kind": "auto_reply", "errors": [], "warnings": [], "fields": {"screened_as": "auto_reply"}})

_legacy_prompt = prompt_to(MARIA)
case("auto_reply", "legacy_vacation_subject_only", crlf(headers([
    ("Received", f"from mail.{OFFICE} by mx1.{OFFICE} (Postfix); Tue, 1 Dec 2026 08:01:00 +0700"),
    ("From", f"{MARIA.name} <{MARIA.address}>"),
    ("To", _legacy_prompt.reply_to),
    ("Subject", "Di luar kantor: " + _legacy_prompt.subject),
    ("Date", "Tue, 1 Dec 2026 08:01:00 +0700"),
    ("Message-ID", "<vacation.1764550860.maria@office.example>"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/plain; charset=us-ascii"),
]) + "\nSaya sedang dinas luar sampai 4 Desember 2026.\n"),
    {"kind": "auto_reply", "errors": [], "warnings": [],
     "fields": {"screened_as": "auto_reply", "reason": "out-of-office subject"}})

case("auto_reply", "gmail_vacation_cuti", crlf(headers([
    ("Received", "by mail-pl1-f170.google.example with SMTP id 7sor123; Tue, 1 Dec 2026 08:02:00 +0700"),
    ("MIME-Version", "1.0"),
    ("From", f"{DEWI.name} <{DEWI.address}>"),
    ("Date", "Tue, 1 Dec 2026 08:02:00 +0700"),
    ("Message-ID", "<CAvacat10nDew1QwErTyUiOpAsDfGhJk@mail.gmail.example>"),
    ("Subject", "Sedang cuti"),
    ("To", prompt_to(DEWI).reply_to),
    ("Auto-Submitted", "auto-replied"),
    ("In-Reply-To", prompt_to(DEWI).message_id),
    ("References", prompt_to(DEWI).message_id),
    ("Content-Type", 'text/plain; charset="UTF-8"'),
]) + "\nTerima kasih atas email Anda. Saya sedang cuti melahirkan sampai Januari 2027.\n"),
    {"kind": "auto_reply", "errors": [], "warnings": [],
     "fields": {"screened_as": "auto_reply", "reason": "Auto-Submitted: auto-replied"}})

_own_prompt = prompt_to(BUDI)
case("auto_reply", "own_message_looped", crlf(headers([
    ("Received", f"from mx1.{OFFICE} by mx1.{OFFICE} (Postfix); Tue, 1 Dec 2026 08:00:30 +0700"),
    ("From", f"{CLD.name} <cld+{PROMPT_TOKEN}@{OFFICE}>"),
    ("To", f"{BUDI.name} <{BUDI.address}>"),
    ("Subject", _own_prompt.subject),
    ("Date", "Tue, 1 Dec 2026 08:00:00 +0700"),
    ("Message-ID", _own_prompt.message_id),
    ("Auto-Submitted", "auto-generated"),
    ("X-Auto-Response-Suppress", "All"),
    ("MIME-Version", "1.0"),
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Transfer-Encoding", "8bit"),
]) + "\n" + _own_prompt.body),
    {"kind": "auto_reply", "errors": [], "warnings": [], "fields": {"screened_as": "own"}})


def postfix_report(recipient: str, action: str, status: str, subject: str, date: str, queue: str) -> bytes:
    boundary = f"{queue}.1764550805/mx1.{OFFICE}"
    human = ("This is the mail system at host mx1.office.example.\n\nI'm sorry to have to inform you that your "
             "message could not\nbe delivered to one or more recipients. It's attached below.\n\n"
             f"<{recipient}>: host mail.office.example[10.12.0.5] said: 550 5.1.1\n    <{recipient}>: "
             "Recipient address rejected: User unknown (in reply to RCPT TO\n    command)\n")
    if action == "delayed":
        human = ("This is the mail system at host mx1.office.example.\n\n####################################"
                 "\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
                 "####################################\n\nYour message could not be delivered for more than 4 "
                 "hour(s).\nIt will be retried until it is 5 day(s) old.\n")
    return crlf(headers([
        ("Return-Path", "<>"),
        ("Received", f"by mx1.{OFFICE} (Postfix) id {queue}; {date}"),
        ("Date", date),
        ("From", f"MAILER-DAEMON@{OFFICE} (Mail Delivery System)"),
        ("Subject", subject),
        ("To", f"cld@{OFFICE}"),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"'),
        ("Content-Transfer-Encoding", "8bit"),
        ("Message-Id", f"<20261201010005.{queue}@mx1.{OFFICE}>"),
    ]) + f"""
This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

{human}
--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.{OFFICE}
X-Postfix-Queue-ID: {queue}
X-Postfix-Sender: rfc822; cld@{OFFICE}
Arrival-Date: {date}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mail.{OFFICE}
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <cld@{OFFICE}>
From: {CLD.name} <cld@{OFFICE}>
To: <{recipient}>
Subject: {prompt_to(BUDI).subject}
Message-ID: <cld.prompt.2026-12.x@{OFFICE}>
Auto-Submitted: auto-generated

--{boundary}--
""")


case("bounce", "postfix_user_unknown", postfix_report(
    "yohanes.sitorus@office.example", "failed", "5.1.1", "Undelivered Mail Returned to Sender",
    "Tue, 1 Dec 2026 08:00:05 +0700 (WIB)", "4Fq9ABC2x1z"),
    {"kind": "bounce", "errors": [], "warnings": [],
     "fields": {"screened_as": "bounce", "bounced_recipients": ["yohanes.sitorus@office.example"]}})

case("auto_reply", "postfix_delayed", postfix_report(
    "dewi.lestari@mail.example.test", "delayed", "4.4.1", "Delayed Mail (still being retried)",
    "Tue, 1 Dec 2026 12:00:05 +0700 (WIB)", "4Fq9DEF3y2a"),
    {"kind": "auto_reply", "errors": [], "warnings": [], "fields": {"screened_as": "auto_reply",
                                                                    "bounced_recipients": []}})

case("bounce", "exchange_mailbox_full", crlf(headers([
    ("Received", "from SG2PR06MB5432.apcprd06.prod.outlook.example by mx1.office.example; "
                 "Tue, 1 Dec 2026 08:00:20 +0700"),
    ("From", "Microsoft Outlook <postmaster@mail.example.test>"),
    ("To", f"<cld@{OFFICE}>"),
    ("Date", "Tue, 1 Dec 2026 01:00:20 +0000"),
    ("Content-Type", 'multipart/report; report-type=delivery-status;\n\tboundary="a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"'),
    ("Content-Language", "en-US"),
    ("Message-ID", "<5f7e8d9c-0b1a-4c2d-9e3f-4a5b6c7d8e9f@SG2PR06MB5432.apcprd06.prod.outlook.example>"),
    ("In-Reply-To", prompt_to(LIA).message_id),
    ("References", prompt_to(LIA).message_id),
    ("Subject", "Undeliverable: " + prompt_to(LIA).subject),
    ("Auto-Submitted", "auto-replied"),
    ("MIME-Version", "1.0"),
]) + f"""
--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Your message to lia.kusumawati@mail.example.test couldn't be delivered.
lia.kusumawati wasn't found at mail.example.test... the mailbox is full.

--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d
Content-Type: message/delivery-status

Reporting-MTA: dns;SG2PR06MB5432.apcprd06.prod.outlook.example
Received-From-MTA: dns;mx1.office.example
Arrival-Date: Tue, 1 Dec 2026 01:00:18 +0000

Original-Recipient: rfc822;Lia.Kusumawati@mail.example.test
Final-Recipient: rfc822;lia.kusumawati@mail.example.test
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException

--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d
Content-Type: message/rfc822

From: {CLD.name} <cld@{OFFICE}>
To: {LIA.name} <{LIA.address}>
Subject: {prompt_to(LIA).subject}
Message-ID: {prompt_to(LIA).message_id}
Auto-Submitted: auto-generated
Content-Type: text/plain; charset=utf-8

{prompt_to(LIA).body}
--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d--
"""),
    {"kind": "bounce", "errors": [], "warnings": [],
     "fields": {"screened_as": "bounce", "bounced_recipients": ["lia.kusumawati@mail.example.test"]}})


_fwd_prompt = prompt_to(HENDRA)
case("unknown", "gmail_forwarded_prompt", gmail(
    reply(HENDRA, _fwd_prompt, "FYI Pak, ini formulir dari sistem CLD. Nanti saya isi.",
          "Tue, 1 Dec 2026 09:00:00 +0700", "<CAHendraFwDQwErTyUiOpAsDfGhJkL@mail.gmail.example>",
          subject_prefix="Fwd: "),
    attribution=(f"---------- Forwarded message ---------\nFrom: {CLD.name} <{_fwd_prompt.reply_to}>\n"
                 f"Date: {_fwd_prompt.gmail_en}\nSubject: {_fwd_prompt.subject}\nTo: {HENDRA.name} <{HENDRA.address}>"),
    quoted_body=_fwd_prompt.body),
    {"kind": "unknown", "errors": ["reply"], "warnings": [], "fields": {}})

case("unknown", "gmail_will_fill_later", gmail(reply(
    AGUS, prompt_to(AGUS), "Baik Bu, formulirnya akan saya isi setelah sesi hari Kamis.\n\nTerima kasih",
    "Tue, 1 Dec 2026 10:00:00 +0700", "<CAAgusLaterQwErTyUiOpAsDfGhJkLz@mail.gmail.example>"), locale="id"),
    {"kind": "unknown", "errors": ["reply"], "warnings": [], "fields": {}})


def _check(item: dict, result: dict) -> list[str]:
    expect, problems = item["expect"], []
    if result["kind"] != expect["kind"]:
        problems.append(f"kind {result['kind']!r} != {expect['kind']!r}")
    for key in ("errors", "warnings"):
        got = sorted(e["field"] for e in result[key])
        if got != sorted(expect[key]):
            problems.append(f"{key} {got} != {sorted(expect[key])}: {result[key]}")
    for key, value in expect["fields"].items():
        if result["fields"].get(key, "<absent>") != value:
            problems.append(f"fields[{key!r}] = {result['fields'].get(key, '<absent>')!r}, expected {value!r}")
    return problems


def main() -> int:
    failures = 0
    for item in CASES:
        folder = HERE / item["folder"]
        folder.mkdir(exist_ok=True)
        eml = folder / f"{item['name']}.eml"
        eml.write_bytes(item["raw"])
        args = item["args"] or {}
        result = parse_message(eml.read_bytes(), **args)
        problems = _check(item, result)
        if problems:
            failures += 1
            print(f"FAIL {item['folder']}/{item['name']}:\n  " + "\n  ".join(problems))
            print("  text:", json.dumps(result["text"], ensure_ascii=False)[:600])
            continue
        (folder / f"{item['name']}.expected.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if args:
            (folder / f"{item['name']}.args.json").write_text(json.dumps(args, indent=2) + "\n", encoding="utf-8")
    print(f"{len(CASES)} cases, {failures} failing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
