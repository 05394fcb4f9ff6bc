"""Appreciative Inquiry questions for the monthly coaching session, in Indonesian and English.

The 4-D cycle (Discover, Dream, Design, Destiny) turns once every four months: January,
May and September are Discover, and so on. Each phase has three pairs of questions, used in
turn each time the phase comes round, so one calendar year asks every question exactly once
and every office sees the same questions in the same month, which keeps the supervisor's brief
and the employees' prompts in step without storing anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.calendar import parse_period

LANGS = ("id", "en")


@dataclass(frozen=True)
class Phase:
    """One phase of the 4-D cycle: its names, a one-line description and its questions."""

    key: str
    name: dict[str, str]
    description: dict[str, str]
    questions: tuple[dict[str, str], ...]  # asked two at a time, in order


PHASES: tuple[Phase, ...] = (
    Phase(
        key="discover",
        name={"id": "Menemukan (Discover)", "en": "Discover"},
        description={
            "id": "Menggali apa yang sudah berjalan baik: kekuatan, keberhasilan, dan hal yang membanggakan.",
            "en": "Find what already works: strengths, successes and moments of pride.",
        },
        questions=(
            {
                "id": "Kapan momen terbaik Anda dalam bekerja bulan ini, dan apa yang membuatnya berjalan baik?",
                "en": "What was your best moment at work this month, and what made it go well?",
            },
            {
                "id": "Kekuatan apa dari diri Anda yang paling banyak terpakai bulan ini, dan siapa yang merasakan manfaatnya?",
                "en": "Which of your strengths did you use most this month, and who benefited from it?",
            },
            {
                "id": "Ingat kembali saat Anda berhasil membantu rekan kerja atau pengguna layanan. Apa yang Anda lakukan sehingga hal itu berhasil?",
                "en": "Think of a time you really helped a colleague or a service user. What did you do that made it work?",
            },
            {
                "id": "Hal baru apa yang Anda pelajari bulan ini dan membuat Anda bangga?",
                "en": "What did you learn this month that you are proud of?",
            },
            {
                "id": "Kapan Anda merasa paling bersemangat dan terlibat dalam pekerjaan bulan ini?",
                "en": "When did you feel most energised and involved in your work this month?",
            },
            {
                "id": "Apa yang sudah dilakukan dengan baik oleh tim kita dan perlu terus kita pertahankan?",
                "en": "What does our team already do well that we should keep doing?",
            },
        ),
    ),
    Phase(
        key="dream",
        name={"id": "Membayangkan (Dream)", "en": "Dream"},
        description={
            "id": "Membayangkan kemungkinan terbaik: wujud ideal pekerjaan kita dan diri kita sendiri.",
            "en": "Imagine what could be: the best version of our work and of ourselves.",
        },
        questions=(
            {
                "id": "Bayangkan kantor kita setahun lagi dalam kondisi terbaiknya. Peran apa yang Anda jalankan di sana?",
                "en": "Imagine our office a year from now at its very best. What part are you playing in it?",
            },
            {
                "id": "Jika pekerjaan Anda berjalan persis seperti yang Anda harapkan, apa kata pengguna layanan tentang hasilnya?",
                "en": "If your work went exactly as you hope, what would service users say about it?",
            },
            {
                "id": "Keahlian apa yang paling ingin Anda kuasai dalam setahun ke depan, dan mengapa hal itu penting bagi Anda?",
                "en": "Which skill would you most like to master in the coming year, and why does it matter to you?",
            },
            {
                "id": "Apa yang akan membuat Anda selalu bersemangat berangkat ke kantor setiap hari?",
                "en": "What would make you look forward to coming to work every day?",
            },
            {
                "id": "Jika Anda dapat memperbaiki satu hal dalam cara kita melayani masyarakat, apa yang akan Anda pilih?",
                "en": "If you could improve one thing about how we serve the public, what would it be?",
            },
            {
                "id": "Kontribusi apa yang ingin Anda tinggalkan dan dikenang dari masa tugas Anda di kantor ini?",
                "en": "What contribution would you like to be remembered for from your time in this office?",
            },
        ),
    ),
    Phase(
        key="design",
        name={"id": "Merancang (Design)", "en": "Design"},
        description={
            "id": "Menerjemahkan gambaran itu menjadi langkah nyata, dukungan yang dibutuhkan, dan ukuran kemajuan.",
            "en": "Turn the picture into concrete steps, the support they need and signs of progress.",
        },
        questions=(
            {
                "id": "Pilih satu tujuan dalam pekerjaan Anda. Langkah nyata apa yang dapat Anda ambil bulan depan untuk mencapainya?",
                "en": "Pick one goal in your work. What concrete step can you take next month towards it?",
            },
            {
                "id": "Dukungan apa yang Anda perlukan dari atasan atau rekan kerja agar langkah itu terlaksana?",
                "en": "What support do you need from your supervisor or colleagues to take that step?",
            },
            {
                "id": "Kekuatan apa yang sudah Anda miliki dan dapat Anda andalkan untuk mencapai target kerja Anda?",
                "en": "Which of the strengths you already have can you rely on to reach your work targets?",
            },
            {
                "id": "Bagaimana Anda akan tahu bahwa Anda sudah mengalami kemajuan? Tanda apa yang akan terlihat?",
                "en": "How will you know you are making progress? What would you see?",
            },
            {
                "id": "Pembelajaran apa yang paling Anda butuhkan saat ini: pelatihan, e-learning, atau mentoring?",
                "en": "What learning would help you most right now: a training course, e-learning or mentoring?",
            },
            {
                "id": "Proses kerja mana yang ingin Anda benahi, dan perubahan pertama apa yang akan Anda usulkan?",
                "en": "Which work process would you like to improve, and what first change would you propose?",
            },
        ),
    ),
    Phase(
        key="destiny",
        name={"id": "Mewujudkan (Destiny)", "en": "Destiny"},
        description={
            "id": "Berkomitmen, bertindak, dan menjaga agar praktik baik terus berjalan.",
            "en": "Commit, act and keep good practice going.",
        },
        questions=(
            {
                "id": "Komitmen apa yang akan Anda jalankan sebelum sesi coaching berikutnya?",
                "en": "What will you commit to doing before our next coaching session?",
            },
            {
                "id": "Hambatan apa yang mungkin muncul, dan bagaimana Anda akan mengatasinya?",
                "en": "What might get in the way, and how will you deal with it?",
            },
            {
                "id": "Siapa saja yang perlu mengetahui rencana kerja Anda agar dapat ikut mendukungnya?",
                "en": "Who else should know about your plans so that they can support them?",
            },
            {
                "id": "Bagaimana Anda menjaga agar praktik baik yang sudah berhasil tetap berjalan secara konsisten?",
                "en": "How will you keep a good practice going once it has worked?",
            },
            {
                "id": "Apa yang sudah Anda praktikkan sejak percakapan kita yang lalu, dan apa hasilnya?",
                "en": "What have you put into practice since our last conversation, and what came of it?",
            },
            {
                "id": "Bagaimana Anda dapat berbagi pengalaman dan pelajaran ini dengan rekan satu tim?",
                "en": "How could you share what you have learned with the rest of your team?",
            },
        ),
    ),
)


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")


def _month_index(period: str) -> int:
    cleaned = parse_period(period)
    return int(cleaned[:4]) * 12 + int(cleaned[5:]) - 1


def phase_for(period: str) -> Phase:
    """The phase of the 4-D cycle for `period`."""
    return PHASES[_month_index(period) % len(PHASES)]


def question_pair_for(period: str, lang: str) -> tuple[str, str, str]:
    """(phase name, first question, second question) for `period` in `lang`."""
    _check_lang(lang)
    phase = phase_for(period)
    # How many times this phase has come round picks the pair, so a phase never repeats a pair
    # until all of its pairs have been asked.
    turn = _month_index(period) // len(PHASES)
    pair = turn % (len(phase.questions) // 2)
    first, second = phase.questions[2 * pair], phase.questions[2 * pair + 1]
    return phase.name[lang], first[lang], second[lang]


def supervisor_guide(lang: str) -> list[tuple[str, str, list[str]]]:
    """The four phases as (name, description, two questions), for the supervisor's monthly brief."""
    _check_lang(lang)
    return [
        (phase.name[lang], phase.description[lang], [q[lang] for q in phase.questions[:2]])
        for phase in PHASES
    ]
