#!/usr/bin/env python3
"""Write the hostile mail corpus: broken, oversized and malicious messages, deterministically.

    python tests/mail/hostile/make_hostile.py

Each case is written as bytes to eml/NAME.eml (CRLF kept exactly as built; some cases break that on purpose), and
listed in MANIFEST.json with its family and why it is hostile. Placeholders the pipeline test fills in:
@@FROM@@ (the address of a person on the roster), @@TOKEN@@ (that person's prompt token), @@DATE@@ (a session
date inside the current period). Messages too big to commit (the 25 MB body) are built by the test itself
with `big_body()` below. The pipeline's promise over all of them: each is stored, then answered with a clear
error, applied, or ignored by policy; none fails, hangs or stops the inbox (tests/reliability/test_hostile_mail.py).
"""

from __future__ import annotations

import base64
import json
import random
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
# One level down, so the golden corpus walk (tests/mail/*/*.eml, each with its .expected.json) never sees these.
MESSAGES = HERE / "eml"
FORM = (
    "Tanggal sesi / Session date: @@DATE@@\r\nJam / Time: 09.00-10.00\r\nMentor:\r\n"
    "Topik / Topic: Penyusunan nilai limit lelang\r\n"
    "Tujuan pembelajaran / Learning objectives: Memahami dasar penetapan nilai limit\r\n"
    "Catatan dan hasil pembelajaran / Notes and learning outcomes: Membahas tiga kasus lelang eksekusi\r\n"
    "Sumber referensi / References: PMK 213/PMK.06/2020\r\nPenilaian / Rating: 1\r\n"
    "Rencana selanjutnya / Next steps: Mendampingi satu pelaksanaan lelang\r\n")
CASES: list[tuple[str, str, str, bytes]] = []  # (name, family, why, bytes)


def head(*, sender="@@FROM@@", to="cld+@@TOKEN@@@office.example", subject="Re: Catatan pembelajaran",
         n: int = 0, extra: str = "") -> str:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Fri, 4 Dec 2026 09:00:00 +0700\r\n"
            f"Message-ID: <hostile-{n}@example.test>\r\n{extra}")


def add(name: str, family: str, why: str, data: bytes | str) -> None:
    n = len(CASES) + 1
    if isinstance(data, str):
        data = data.replace("@@N@@", str(n)).encode("utf-8", "surrogateescape")
    CASES.append((f"{family}_{name}", family, why, data.replace(b"@@N@@", str(n).encode())))


def plain(body: str, **kw) -> str:
    return head(n="@@N@@", **kw) + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body


def multipart(parts: list[str], boundary="b1", subtype="mixed", **kw) -> str:
    body = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n"
    return (head(n="@@N@@", **kw) + f"MIME-Version: 1.0\r\nContent-Type: multipart/{subtype}; "
            f"boundary=\"{boundary}\"\r\n\r\n" + body)


TEXT_PART = "Content-Type: text/plain; charset=utf-8\r\n\r\n" + FORM
HTML_PART = "Content-Type: text/html; charset=utf-8\r\n\r\n<p>" + FORM.replace("\r\n", "<br>") + "</p>"


def truncated() -> None:
    whole = multipart([TEXT_PART, HTML_PART, "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
                       "Content-Disposition: attachment; filename=a.pdf\r\n\r\n" + base64.encodebytes(
                           bytes(range(256)) * 8).decode().replace("\n", "\r\n")], subtype="mixed")
    for i, fraction in enumerate([0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65,
                                  0.7, 0.75, 0.8, 0.85, 0.9, 0.97]):
        add(f"{i:02d}_at_{int(fraction * 100)}pct", "truncated_mime", "the message ends mid-header, mid-part or "
            "mid-base64", whole[:int(len(whole) * fraction)])


    html_only = head(n="@@N@@") + "MIME-Version: 1.0\r\n" + HTML_PART
    for i in range(12):
        add(f"html_{i:02d}", "truncated_mime", "an HTML-only reply cut short",
            html_only[:int(len(html_only) * (i + 1) / 13)])


def boundaries() -> None:
    base = [TEXT_PART, HTML_PART]
    add("declared_other", "wrong_boundary", "parts use a boundary the header does not declare",
        multipart(base, boundary="b1").replace('boundary="b1"', 'boundary="zz"'))
    add("no_closing", "wrong_boundary", "the closing boundary is missing",
        multipart(base).replace("--b1--\r\n", ""))
    add("empty", "wrong_boundary", "boundary=\"\"", multipart(base).replace('boundary="b1"', 'boundary=""'))
    add("missing_param", "wrong_boundary", "multipart without a boundary parameter",
        multipart(base).replace('; boundary="b1"', ""))
    add("nested_same", "wrong_boundary", "an inner multipart reuses the outer boundary",
        multipart(["Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n" + TEXT_PART + "\r\n--b1--",
                   HTML_PART]))
    add("boundary_in_text", "wrong_boundary", "the boundary string appears inside the text",
        multipart(["Content-Type: text/plain\r\n\r\n--b1 is not a boundary\r\n" + FORM]))
    add("very_long", "wrong_boundary", "a 5,000-character boundary", multipart(base, boundary="x" * 5000))
    add("only_preamble", "wrong_boundary", "a multipart with only a preamble",
        head(n="@@N@@") + "Content-Type: multipart/mixed; boundary=q\r\n\r\n" + FORM)
    add("epilogue_form", "wrong_boundary", "the form sits in the epilogue after the close",
        multipart(["Content-Type: text/plain\r\n\r\nhalo"]) + FORM)
    add("whitespace", "wrong_boundary", "boundary lines with trailing junk and spaces",
        multipart(base).replace("--b1\r\n", "--b1   junk\r\n"))
    add("unclosed_quote", "wrong_boundary", "boundary=\"b1 with no closing quote",
        multipart(base).replace('boundary="b1"', 'boundary="b1'))


def charsets() -> None:
    for i, charset in enumerate(["x-unknown", "utf-7", "utf-16", "utf-32", "iso-2022-jp", "", "\"\"", "utf8mb4",
                                 "ks_c_5601-1987", "gb2312", "unicode-1-1-utf-7", "..", "utf-8\x00", "latin-9",
                                 "windows-874"]):
        body = head(n="@@N@@") + f"Content-Type: text/plain; charset={charset}\r\n\r\n"
        add(f"{i:02d}", "invalid_charset", f"charset {charset!r} with bytes that do not fit it",
            body.encode("utf-8", "surrogateescape") + FORM.encode() + b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x82\r\n")
        add(f"{i:02d}_in_subject", "invalid_charset", f"an encoded-word Subject in charset {charset!r}",
            plain(FORM, subject=f"=?{charset or 'x'}?b?" + base64.b64encode(b"\xff\xfeRe: \x80\x81").decode() + "?="))
    add("utf8_declared_invalid", "invalid_charset", "UTF-8 declared, bytes are not UTF-8",
        head(n="@@N@@").encode() + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
        FORM.encode().replace(b"lelang", b"lel\xe0\xe1ng"))
    add("header_unknown_charset", "invalid_charset", "an encoded word in an unknown charset",
        plain(FORM, subject="=?x-klingon?q?Re=3A_catatan?="))


def many_headers() -> None:
    add("10000_headers", "many_headers", "10,000 header fields",
        plain(FORM, extra="".join(f"X-Junk-{i}: {i}\r\n" for i in range(10000))))
    add("10000_received", "many_headers", "10,000 Received lines",
        plain(FORM, extra="Received: from a by b; Fri, 4 Dec 2026 09:00:00 +0700\r\n" * 10000))
    add("2000_recipients", "many_headers", "To with 2,000 addresses",
        plain(FORM, to=", ".join(f"u{i}@example.test" for i in range(2000)) + ", cld+@@TOKEN@@@office.example"))
    add("500_subjects", "many_headers", "500 Subject headers",
        plain(FORM, extra="Subject: Re: lagi\r\n" * 500))
    add("100kb_header", "many_headers", "one folded header of 100 KB",
        plain(FORM, extra="X-Long: " + "\r\n ".join(["a" * 70] * 1400) + "\r\n"))
    add("300_from", "many_headers", "300 From headers",
        plain(FORM, extra="From: other@evil.test\r\n" * 300))


def nesting() -> None:
    for depth in (10, 50, 100, 250, 500, 1000, 3000):
        inner = TEXT_PART
        for level in range(depth):
            inner = (f"Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}\r\n{inner}\r\n"
                     f"--n{level}--")
        add(f"multipart_{depth}", "deep_nesting", f"multiparts nested {depth} deep",
            head(n="@@N@@") + "MIME-Version: 1.0\r\n" + inner + "\r\n")
    for depth in (20, 200):
        inner = TEXT_PART
        for _ in range(depth):
            inner = "Content-Type: message/rfc822\r\n\r\n" + head(n="@@N@@") + inner
        add(f"rfc822_{depth}", "deep_nesting", f"message/rfc822 nested {depth} deep", head(n="@@N@@") + inner)
    add("many_siblings", "deep_nesting", "5,000 sibling parts",
        multipart([TEXT_PART] + ["Content-Type: text/plain\r\n\r\nx"] * 5000))


def nul_bytes() -> None:
    places = {
        "body": plain(FORM.replace("Topik", "To\x00pik")),
        "form_value": plain(FORM.replace("lelang\r\n", "lelang\x00\x00\x00\r\n")),
        "subject": plain(FORM, subject="Re:\x00 catatan"),
        "from": plain(FORM, sender="Dewi\x00 <@@FROM@@>"),
        "header_name": plain(FORM, extra="X-\x00Bad: 1\r\n"),
        "boundary": multipart([TEXT_PART], boundary="b\x00b"),
        "only_nul": "\x00" * 4096,
        "nul_lines": plain("\x00\r\n" * 2000 + FORM),
        "message_id": plain(FORM).replace("<hostile-", "<host\x00ile-"),
        "token": plain(FORM, to="cld+@@TOKEN@@\x00@office.example"),
    }
    for name, text in places.items():
        add(name, "nul_bytes", f"NUL bytes in the {name.replace('_', ' ')}", text)


def encoded_words() -> None:
    b64 = lambda s: "=?utf-8?b?" + base64.b64encode(s.encode()).decode() + "?="
    senders = {
        "owner_in_display": b64("Dewi <@@FROM@@>") + " <attacker@evil.test>",
        "address_only_encoded": b64("@@FROM@@"),
        "comma_in_display": b64("a@evil.test, @@FROM@@") + " <attacker@evil.test>",
        "crlf_in_display": b64("Dewi\r\nBcc: evil@evil.test") + " <@@FROM@@>",
        "broken_base64": "=?utf-8?b?!!!notbase64===?= <@@FROM@@>",
        "unknown_charset": "=?x-unknown?q?Dewi?= <@@FROM@@>",
        "unterminated": "=?utf-8?q?Dewi <@@FROM@@>",
        "thousand_words": " ".join(["=?utf-8?q?a?="] * 1000) + " <@@FROM@@>",
        "nested_encoding": b64(b64("Dewi")) + " <@@FROM@@>",
        "encoded_angle": "=?utf-8?q?=3C@@FROM@@=3E?= <attacker@evil.test>",
        "group_syntax": "undisclosed-recipients:;",
        "empty": "",
        "bidi_override": b64("\u202eDewi\u202c") + " <@@FROM@@>",
        "quoted_at": '"@@FROM@@"@evil.test',
        "two_addresses": "attacker@evil.test, @@FROM@@",
    }
    for name, sender in senders.items():
        add(name, "encoded_word_from", "encoded-word and address tricks in From", plain(FORM, sender=sender))
    for name in ("owner_in_display", "crlf_in_display", "thousand_words", "encoded_angle", "comma_in_display"):
        add(f"to_{name}", "encoded_word_from", "the same trick in To and Cc",
            plain(FORM, extra=f"Cc: {senders[name]}\r\n", to=senders[name] + ", cld+@@TOKEN@@@office.example"))


def long_lines() -> None:
    add("1mb_line", "overlong_lines", "a 1 MB line", plain(FORM + "x" * 1_000_000 + "\r\n"))
    add("no_line_ends", "overlong_lines", "no line ends in the body", plain(FORM.replace("\r\n", " ")))
    add("bare_cr", "overlong_lines", "bare CR line ends throughout", plain(FORM).replace("\r\n", "\r"))
    add("bare_lf", "overlong_lines", "bare LF line ends", plain(FORM).replace("\r\n", "\n"))
    add("mixed_ends", "overlong_lines", "CR, LF and CRLF mixed", plain(FORM).replace("\r\n", "\n", 3)
        .replace("\r\n", "\r", 3))
    add("999_chars", "overlong_lines", "lines just past RFC 5322's 998", plain((("y" * 999) + "\r\n") * 50 + FORM))
    add("long_subject", "overlong_lines", "a 50 KB subject", plain(FORM, subject="Re: " + "z" * 50_000))
    add("qp_soft_breaks", "overlong_lines", "quoted-printable with 100,000 soft breaks",
        head(n="@@N@@") + "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + "a=\r\n" * 100_000 + FORM)
    add("long_token_line", "overlong_lines", "the reply address repeated on one 200 KB line",
        plain(FORM + "cld+@@TOKEN@@@office.example " * 5000))


def attachments() -> None:
    bomb = zlib.compress(b"\x00" * 20_000_000, 9)
    add("deflate_bomb", "attachment_bombs", "20 MB of zeros deflated to a few KB, as application/zlib",
        multipart([TEXT_PART, "Content-Type: application/zlib\r\nContent-Transfer-Encoding: base64\r\n"
                   "Content-Disposition: attachment; filename=bomb.z\r\n\r\n" + base64.encodebytes(bomb).decode()]))
    import gzip
    import io
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as g:
        g.write(b"\x00" * 20_000_000)
    add("gzip_bomb", "attachment_bombs", "20 MB of zeros gzipped, declared Content-Encoding gzip",
        multipart([TEXT_PART, "Content-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Transfer-Encoding: base64"
                   "\r\n\r\n" + base64.encodebytes(buffer.getvalue()).decode()]))
    add("1000_attachments", "attachment_bombs", "1,000 small attachments",
        multipart([TEXT_PART] + [f"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
                                 f"filename=f{i}.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA" for i in range(1000)]))
    add("invalid_base64", "attachment_bombs", "an attachment that is not base64",
        multipart([TEXT_PART, "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                   "!!!! this is not base64 ****\r\n" * 100]))
    add("text_in_base64_garbage", "attachment_bombs", "the text part itself is invalid base64",
        multipart(["Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%%" + FORM]))
    add("unknown_cte", "attachment_bombs", "Content-Transfer-Encoding: x-bomb",
        multipart(["Content-Type: text/plain\r\nContent-Transfer-Encoding: x-bomb\r\n\r\n" + FORM]))
    add("uuencode", "attachment_bombs", "x-uuencode with a broken body",
        multipart(["Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n"
                   "M````\r\nend\r\n" + FORM]))
    add("tnef", "attachment_bombs", "a winmail.dat TNEF blob only",
        multipart(["Content-Type: application/ms-tnef; name=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                   + base64.encodebytes(b"\x78\x9f\x3e\x22" + bytes(2000)).decode()]))
    add("1000_params", "attachment_bombs", "a Content-Type with 1,000 parameters",
        head(n="@@N@@") + "Content-Type: text/plain; " + "; ".join(f"p{i}=v{i}" for i in range(1000)) +
        "\r\n\r\n" + FORM)
    add("rfc2231_abuse", "attachment_bombs", "RFC 2231 continuations 500 long for a filename",
        multipart([TEXT_PART, "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; " +
                   "; ".join(f"filename*{i}*=utf-8''%41%42" for i in range(500)) + "\r\n\r\nAAAA"]))


def html() -> None:
    pages = {
        "script": "<script>alert(1)</script>",
        "remote_image": '<img src="http://evil.test/track.png?u=1">',
        "iframe": '<iframe src="http://evil.test/"></iframe>',
        "svg_onload": '<svg onload="alert(1)"><text>x</text></svg>',
        "meta_refresh": '<meta http-equiv="refresh" content="0;url=http://evil.test/">',
        "javascript_link": '<a href="javascript:alert(1)">klik</a>',
        "data_uri": '<img src="data:image/png;base64,AAAA">',
        "hidden_setuju": '<div style="display:none">SETUJU</div>',
        "style_expression": '<div style="width:expression(alert(1))">x</div>',
        "form_tag": '<form action="http://evil.test/"><input name=p></form>',
        "unclosed_tags": "<div><p><table><tr><td>" * 500,
        "comment_bomb": "<!--" * 5000,
        "entity_bomb": "&amp;" * 50_000,
        "cdata": "<![CDATA[ ]]>" * 1000,
        "deep_divs": "<div>" * 20_000 + "</div>" * 20_000,
    }
    for name, snippet in pages.items():
        body = f"<html><head><title>x</title></head><body>{snippet}<p>{FORM.replace(chr(13) + chr(10), '<br>')}</p>" \
               f"{snippet}</body></html>"
        add(name, "html_scripts", f"HTML-only reply with {name.replace('_', ' ')}",
            head(n="@@N@@") + "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body)


def big_fields() -> None:
    rng = random.Random(7)
    words = ["lelang", "limit", "nilai", "kasus", "aset", "negara", "piutang", "kantor", "sesi", "catatan"]
    filler = lambda n: " ".join(rng.choice(words) for _ in range(n // 6))
    for label in ("Topik / Topic", "Tujuan pembelajaran / Learning objectives",
                  "Catatan dan hasil pembelajaran / Notes and learning outcomes", "Sumber referensi / References",
                  "Rencana selanjutnya / Next steps", "Mentor"):
        text = FORM.replace(f"{label}:", f"{label}: {filler(100_000)}", 1) if f"{label}:" in FORM else FORM
        add(label.split(" /")[0].lower().replace(" ", "_"), "big_form_fields", f"{label}: 100 KB", plain(text))
    add("all_fields", "big_form_fields", "every field 100 KB",
        plain("\r\n".join(line + " " + filler(100_000) if line.endswith(":") or ":" in line else line
                          for line in FORM.split("\r\n"))))
    add("1000_issues", "big_form_fields", "1,000 follow-up issues in one form",
        plain(FORM + "Isu tindak lanjut / Follow-up issues:\r\n" +
              "".join(f"- Masalah nomor {i} [Unit: Subbagian Umum]\r\n" for i in range(1000))))
    add("100kb_rating", "big_form_fields", "a 100 KB rating", plain(FORM.replace("Rating: 1", "Rating: " + "1" * 100_000)))
    add("form_repeated", "big_form_fields", "the form 500 times", plain(FORM * 500))
    add("labels_only", "big_form_fields", "10,000 labels and no values", plain("Topik / Topic:\r\n" * 10_000))


def misc() -> None:
    rng = random.Random(11)
    add("empty", "misc", "zero bytes", b"")
    add("headers_only", "misc", "headers and no body", head(n="@@N@@"))
    for i in range(20):
        add(f"random_bytes_{i}", "misc", "random bytes", bytes(rng.randrange(256) for _ in range(2000 + i * 500)))
    add("no_from", "misc", "no From header", plain(FORM).replace("From: @@FROM@@\r\n", ""))
    add("huge_message_id", "misc", "a 5,000-character Message-ID",
        plain(FORM).replace("<hostile-", "<" + "m" * 5000 + "-"))
    add("no_message_id", "misc", "no Message-ID", plain(FORM).replace("Message-ID: <hostile-@@N@@@example.test>\r\n", ""))
    add("bad_date", "misc", "an impossible Date", plain(FORM).replace("Fri, 4 Dec 2026 09:00:00 +0700", "Kamis, 99 Xyz"))
    add("message_rfc822_only", "misc", "the whole body is an attached message",
        head(n="@@N@@") + "Content-Type: message/rfc822\r\n\r\n" + plain(FORM))
    add("multipart_no_parts", "misc", "a multipart with no parts",
        head(n="@@N@@") + "Content-Type: multipart/mixed; boundary=e\r\n\r\n--e--\r\n")
    add("alternative_without_text", "misc", "multipart/alternative with only an image",
        multipart(["Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo="],
                  subtype="alternative"))
    add("calendar", "misc", "a calendar invitation", multipart(
        [TEXT_PART, "Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR"]))
    add("stranger", "misc", "a stranger with a good form and no token",
        plain(FORM, sender="stranger@evil.test", to="cld@office.example"))
    add("stranger_token", "misc", "a stranger using the token", plain(FORM, sender="stranger@evil.test"))
    add("header_without_colon", "misc", "a header line without a colon", plain(FORM, extra="This is not a header\r\n"))
    add("space_before_colon", "misc", "a header name with spaces", plain(FORM, extra="From : other@evil.test\r\n"))
    add("8bit_headers", "misc", "raw 8-bit bytes in headers",
        head(n="@@N@@").encode() + b"X-Raw: \xff\xfe\xfd\r\nContent-Type: text/plain\r\n\r\n" + FORM.encode())
    add("utf8_headers", "misc", "raw UTF-8 in Subject and From name (SMTPUTF8)",
        plain(FORM, sender="Déwi Ñ <@@FROM@@>", subject="Re: catatan — ✓ 日本"))
    add("content_type_garbage", "misc", "a Content-Type that is not one",
        head(n="@@N@@") + "Content-Type: ;;;/;;;\r\n\r\n" + FORM)
    add("multipart_digest", "misc", "multipart/digest of replies", multipart([plain(FORM)], subtype="digest"))


def big_body(size: int = 25 * 1024 * 1024) -> bytes:
    """A message with a `size`-byte text body after a good form (built at test time, never committed)."""
    top = plain(FORM).replace("@@N@@", "big").encode()
    line = b"lorem ipsum dolor sit amet " * 3 + b"\r\n"
    return top + line * (size // len(line))


def build() -> list[tuple[str, str, str, bytes]]:
    CASES.clear()
    for family in (truncated, boundaries, charsets, many_headers, nesting, nul_bytes, encoded_words, long_lines,
                   attachments, html, big_fields, misc):
        family()
    return CASES


# Bigger than this, a case is rebuilt by the test from build() instead of being committed.
COMMIT_LIMIT = 150_000


def main() -> None:
    cases = build()
    MESSAGES.mkdir(exist_ok=True)
    for old in MESSAGES.glob("*.eml"):
        old.unlink()
    manifest = []
    for name, family, why, data in cases:
        generated = len(data) > COMMIT_LIMIT
        if not generated:
            (MESSAGES / f"{name}.eml").write_bytes(data)
        manifest.append({"name": name, "family": family, "why": why, "bytes": len(data), "generated": generated})
    (HERE / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    total = sum(len(d) for *_, d in cases)
    print(f"{len(cases)} messages, {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
