"""From raw bytes to the text a person wrote: MIME, charsets, HTML and format=flowed, never raising."""

from __future__ import annotations

import email.policy
import functools
import re
from email import utils
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser

DEFAULT_LIMIT = 1_000_000
_MAX_PARTS = 500

# Characters that look like nothing but split words or labels.
# Beyond ASCII: line separators, invisible characters and odd spaces, each with what it becomes. One regex
# pass finds them; str.translate with a dict looked up every character of a long body in Python.
_UNICODE_FIXES = {"\u2028": "\n", "\u2029": "\n", **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
                  **dict.fromkeys("\u00a0\u202f\u2007\u3000", " ")}
_UNICODE_ODD = re.compile("[" + "".join(_UNICODE_FIXES) + "]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _RememberingHeaderRegistry(HeaderRegistry):
    """The modern policy's header parser, remembering what it parsed.

    The policy parses a header again at every access, and reading one reply asked for its parts'
    Content-Type and Content-Disposition a dozen times: a seventh of the inbox job's CPU (py-spy). A parsed
    header is a pure function of its name and text and is never changed, so equal headers share one parse,
    within a message and across messages. Long values (a 2,000-recipient To:) are parsed each time, so the
    memory held stays small.
    """

    def __call__(self, name, value):
        if len(value) > 1000:
            return super().__call__(name, value)
        return self._remembered(name, value)

    @functools.lru_cache(maxsize=2048)
    def _remembered(self, name, value):
        return super().__call__(name, value)


# What every inbound message is parsed with: the modern policy, with the remembering header parser.
READ_POLICY = email.policy.default.clone(header_factory=_RememberingHeaderRegistry())


def parse_bytes(raw: bytes) -> EmailMessage:
    """The message parsed with the modern policy; an empty message if the bytes cannot be parsed at all."""
    try:
        return BytesParser(policy=READ_POLICY).parsebytes(bytes(raw or b""))
    except Exception:
        return EmailMessage(policy=READ_POLICY)


def parse_headers(raw: bytes) -> EmailMessage:
    """Only the header block, parsed like `parse_bytes` (a 20 MB body is not read to learn the subject)."""
    try:
        return BytesParser(policy=READ_POLICY).parsebytes(bytes(raw or b""), headersonly=True)
    except Exception:
        return EmailMessage(policy=READ_POLICY)


def header_text(msg: Message, name: str) -> str:
    """The decoded text of the first `name` header, or '' when absent or unreadable."""
    values = header_texts(msg, name)
    return values[0] if values else ""


def header_texts(msg: Message, name: str) -> list[str]:
    """The decoded text of every `name` header, tolerating malformed values.

    Remembered on the message: the stages ask for the same few headers a dozen times, and each answer costs
    a run of the modern policy's header parser. A parsed message is never changed afterwards.
    """
    memo = msg.__dict__.setdefault("_cld_header_texts", {})
    key = name.lower()
    if key not in memo:
        memo[key] = _header_texts(msg, name)
    return list(memo[key])


def _header_texts(msg: Message, name: str) -> list[str]:
    try:
        return [str(value) for value in msg.get_all(name) or []]
    except Exception:
        pass
    values = []
    try:
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                values.append(_decode_words(str(raw)))
    except Exception:
        return []
    return values


def _decode_words(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw


def address_header_texts(msg: Message, name: str) -> list[str]:
    """Every `name` header as written, unfolded, for reading addresses (encoded words are left encoded).

    An address is never encoded (RFC 2047), and `getaddresses` reads the written form as it is: the modern
    policy's structured parse of From and To cost ten times as much and told us nothing more.
    """
    try:
        written = ["".join(_LINE_BREAKS.split(str(raw))) for key, raw in msg.raw_items() if key.lower() == name.lower()]
    except Exception:
        return []
    # Raw 8-bit bytes (a Cyrillic letter in an address, sent unencoded) come as surrogates: the policy
    # decodes those properly.
    return written if all(value.isascii() for value in written) else header_texts(msg, name)


_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def addresses(msg: Message, name: str) -> list[str]:
    """The bare, lowercased e-mail addresses in every `name` header."""
    try:
        pairs = utils.getaddresses(address_header_texts(msg, name))
    except Exception:
        return []
    return [address.strip().lower() for _, address in pairs if "@" in address]


def normalise(text: str) -> str:
    """Unix line ends, plain spaces, and no invisible or control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii():  # the separators, invisible characters and odd spaces are all beyond ASCII
        text = _UNICODE_ODD.sub(lambda found: _UNICODE_FIXES[found.group()], text)
    return _CONTROL.sub("", text)


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes: the declared charset, then UTF-8, then windows-1252, then Latin-1 (which never fails)."""
    declared = (declared or "").strip().strip('"').lower()
    candidates = [declared, "utf-8", "cp1252"]
    if declared in {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1"}:
        # Mail labelled Latin-1 is in practice windows-1252 (curly quotes, en dashes).
        candidates = ["cp1252", declared]
    for charset in filter(None, candidates):
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1")


def unflow(text: str, delsp: bool = False) -> str:
    """Join the soft-wrapped lines of a format=flowed body (RFC 3676), keeping quote depth."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if pending is not None and depth == pending_depth:
            content = pending + content
        elif pending is not None:
            out.append(_quoted(pending_depth, pending))
        pending, pending_depth = (content, depth) if soft else (None, depth)
        if not soft:
            out.append(_quoted(depth, content))
    if pending is not None:
        out.append(_quoted(pending_depth, pending))
    return "\n".join(out)


def _quoted(depth: int, content: str) -> str:
    return ">" * depth + " " + content if depth else content


class _HtmlToText(HTMLParser):
    """Visible text of an HTML body; blockquotes become '> ' lines so quotes can be trimmed."""

    BREAKS = {"br", "p", "div", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
              "blockquote", "pre", "dd", "dt", "section", "article", "header", "footer", "center", "address"}
    HIDDEN = {"script", "style", "head", "title", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.depth = self.hidden = self.pre = 0
        self.line_depth = 0
        self.visible = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.newline(explicit=True)
        elif tag in self.BREAKS:
            self.newline()
        if tag == "blockquote":
            self.depth += 1
        elif tag == "pre":
            self.pre += 1
        elif tag == "li":
            self.text("- ")
        elif tag in {"td", "th"}:
            self.text(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BREAKS and tag != "br":
            self.newline()
        if tag == "blockquote":
            self.depth = max(0, self.depth - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.pre:
            first, *rest = data.split("\n")
            self.text(first, visible=True)
            for line in rest:
                self.newline(explicit=True)
                self.text(line, visible=True)
        else:
            self.text(re.sub(r"[ \t\r\n\f]+", " ", data), visible=data.strip(" \t\r\n\f") != "")

    def text(self, data: str, visible: bool = False) -> None:
        if not self.visible:
            self.line_depth = self.depth
        self.visible = self.visible or visible
        self.current.append(data)

    def newline(self, explicit: bool = False) -> None:
        """End the current line; a block boundary adds no empty line, a <br> does."""
        if self.visible or explicit:
            line = normalise("".join(self.current)).strip()
            self.lines.append(_quoted(self.line_depth, line) if line else "")
        self.current, self.visible = [], False
        self.line_depth = self.depth

    def result(self) -> str:
        self.newline()
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    """Readable text from HTML: no scripts, styles or images; line breaks kept; quotes marked with '>'."""
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass
    return re.sub(r"\n{3,}", "\n\n", parser.result()).strip("\n")


def _text_parts(msg: Message):
    """Text parts in reading order, not descending into attached messages."""
    stack, seen = [msg], 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop(0)
        seen += 1
        if part.is_multipart():
            payload = part.get_payload()
            if part.get_content_maintype() == "multipart" and isinstance(payload, list):
                stack = list(payload) + stack
            continue
        if part.get_content_maintype() != "text":
            continue
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (part.get_filename() and disposition is not None):
            continue
        yield part


def _part_text(part: Message, limit: int) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    data = data[: limit * 4]
    text = decode_bytes(data, part.get_content_charset())
    if (part.get_param("format") or "").lower() == "flowed":
        text = unflow(normalise(text), (part.get_param("delsp") or "").lower() == "yes")
    return text


def reply_text(msg: Message, limit: int = DEFAULT_LIMIT) -> str:
    """The body a person would read: the first plain-text part, else the HTML part as text; capped at `limit`."""
    try:
        parts = list(_text_parts(msg))
        plain = [p for p in parts if p.get_content_subtype() == "plain"]
        html = [p for p in parts if p.get_content_subtype() == "html"]
        text = _part_text(plain[0], limit) if plain else ""
        if not text.strip() and html:
            # Some clients send an empty plain part beside the real HTML one.
            text = html_to_text(normalise(_part_text(html[0], limit)))
        return normalise(text)[:limit]
    except Exception:
        return ""
