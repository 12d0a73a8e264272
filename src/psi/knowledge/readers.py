"""A file's bytes to a titled list of blocks (headings and paragraphs, with pages).

    extracted = read_document(Path("notes/trip.md"), data)
    extracted.title, extracted.tags, extracted.links
    extracted.blocks[0]          # Block(text="Packing", level=2) is a heading

One reader per kind, chosen by the file's extension (`KINDS`). A file a reader cannot
take raises `Unreadable` with the reason a person needs ("encrypted PDF (it needs a
password)", "not UTF-8 text"), so the caller can skip it and say why.

Left out: OCR of scanned PDFs, attachments inside e-mails, and character sets other
than UTF-8 (and UTF-16 with a byte-order mark) for text files.
"""

from __future__ import annotations

import email
import email.policy
import io
import mailbox
import re
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from psi.knowledge.chunking import Block

KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".eml": "email",
    ".mbox": "mbox",
}
# Kinds whose files must be text: NUL bytes in one mean it is something else.
TEXT_KINDS = frozenset({"markdown", "text", "html", "email", "mbox"})


class Unreadable(Exception):
    """A file psi cannot read as its kind; `reason` says why, for the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Extracted:
    title: str
    blocks: list[Block]
    tags: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    pages: int | None = None


def kind_of(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


def read_document(path: Path, data: bytes) -> Extracted:
    """What the file at `path` (already read as `data`) holds. Raises Unreadable."""
    kind = kind_of(path)
    if kind is None:
        raise Unreadable(f"not a kind psi reads ({', '.join(sorted(KINDS))})")
    if kind in TEXT_KINDS and b"\0" in data[:8192] and not data.startswith(_UTF16_BOMS):
        raise Unreadable(f"binary content in a {path.suffix} file")
    reader = _READERS[kind]
    extracted = reader(path, data)
    if not any(block.text.strip() for block in extracted.blocks):
        if kind == "pdf":
            raise Unreadable("no text in this PDF (a scan? psi does not run OCR)")
        raise Unreadable("no text in it")
    return extracted


# -- text ------------------------------------------------------------------------------

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(data: bytes) -> str:
    """UTF-8 (a byte-order mark allowed), or UTF-16 with a byte-order mark."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise Unreadable("broken UTF-16 text") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(
            f"not UTF-8 text (byte {exc.start}); convert it, e.g. "
            "`iconv -f cp1252 -t utf-8 FILE > NEW`"
        ) from None


def paragraphs(text: str, *, page: int | None = None) -> list[Block]:
    """Paragraphs separated by blank lines, each joined onto one line."""
    return [
        Block(" ".join(part.split()), page=page)
        for part in re.split(r"\n\s*\n", text)
        if part.strip()
    ]


def _read_text(path: Path, data: bytes) -> Extracted:
    return Extracted(title=path.stem, blocks=paragraphs(decode_text(data)))


# -- Markdown (Obsidian included) -------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_WIKI = re.compile(r"!?\[\[([^\]|#]*)(?:#[^\]|]*)?(?:\|([^\]]*))?\]\]")
_TAG = re.compile(r"(?<![\w/#&])#([A-Za-z_][\w/-]*)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    """YAML front matter between `---` lines at the top, and the text after it."""
    if not text.startswith("---"):
        return {}, text
    match = re.match(r"---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|$)", text, re.S)
    if match is None:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text[match.end() :]  # broken front matter is left out, the note kept
    return (meta if isinstance(meta, dict) else {}), text[match.end() :]


def _listed(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip().lstrip("#") for v in re.split(r"[,\s]+", value) if v.strip()]
    if isinstance(value, list):
        return [str(v).strip().lstrip("#") for v in value if str(v).strip()]
    return []


def _inline(text: str, links: list[str]) -> str:
    """A Markdown line as plain words: wiki links as their alias or note name (noted in
    `links`), Markdown links as their text, emphasis marks dropped."""

    def wiki(match: re.Match[str]) -> str:
        target, alias = match.group(1).strip(), match.group(2)
        if target:
            links.append(target)
        return (alias or target).strip()

    text = _WIKI.sub(wiki, text)
    text = _LINK.sub(lambda m: m.group(1), text)
    return re.sub(r"(\*\*|__|`)", "", text)


def _read_markdown(path: Path, data: bytes) -> Extracted:
    meta, body = _front_matter(decode_text(data))
    tags = _listed(meta.get("tags")) + _listed(meta.get("tag"))
    links: list[str] = []
    blocks: list[Block] = []
    paragraph: list[str] = []
    fenced = False

    def flush() -> None:
        if paragraph:
            blocks.append(Block(" ".join(" ".join(paragraph).split())))
            paragraph.clear()

    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            paragraph.append(line.strip())
            continue
        heading = None if fenced else _HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(_inline(heading.group(2), links), level=len(heading.group(1))))
        elif not line.strip():
            if not fenced:
                flush()
        else:
            if not fenced:
                tags += _TAG.findall(line)
            paragraph.append(_inline(line, links))
    flush()
    title = str(meta.get("title") or "").strip()
    if not title:
        first = next((b for b in blocks if b.level == 1), None)
        title = first.text if first else path.stem
    return Extracted(
        title=title,
        blocks=blocks,
        tags=list(dict.fromkeys(tags)),
        links=list(dict.fromkeys(links)),
    )


# -- PDF -----------------------------------------------------------------------------------


def _read_pdf(path: Path, data: bytes) -> Extracted:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    # pypdf logs every oddity of a damaged file; the report says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except (FileNotDecryptedError, NotImplementedError, ValueError):
                opened = False
            if not opened:
                raise Unreadable("encrypted PDF (it needs a password)")
        bookmarks = _bookmarks(reader)
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            blocks += [Block(title, level=level, page=number) for level, title in
                       bookmarks.get(number, [])]  # fmt: skip
            blocks += paragraphs(page.extract_text() or "", page=number)
        pages = len(reader.pages)
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title).strip()
    except Unreadable:
        raise
    except FileNotDecryptedError:
        raise Unreadable("encrypted PDF (it needs a password)") from None
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise Unreadable(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise Unreadable("not a readable PDF (its structure loops)") from None
    return Extracted(title=title or path.stem, blocks=blocks, pages=pages)


def _bookmarks(reader: Any) -> dict[int, list[tuple[int, str]]]:
    """The PDF's outline as headings: {page number: [(level, title), ...]} in order, so a
    passage can say "Chapter 2, page 14". A broken outline is no outline."""
    found: dict[int, list[tuple[int, str]]] = {}

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):  # the children of the item before it
                walk(item, level + 1)
                continue
            number = reader.get_destination_page_number(item)
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if title and number is not None and number >= 0:
                found.setdefault(number + 1, []).append((min(level, 6), title))

    try:
        walk(list(reader.outline), 1)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, RecursionError):
        return {}
    return found


# -- HTML ----------------------------------------------------------------------------------

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav", "footer"})
_BREAKS = frozenset(
    {"p", "div", "li", "br", "tr", "td", "th", "section", "article", "blockquote", "pre",
     "dd", "dt", "figcaption", "table", "ul", "ol", "main", "header", "aside"}
)  # fmt: skip


class _Html(HTMLParser):
    """Headings and text blocks of a page, by the standard library's HTML parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._text: list[str] = []
        self._skipping = 0
        self._heading = 0
        self._in_title = False

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        self._text.clear()
        if text:
            self.blocks.append(Block(text, level=self._heading))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self._skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = int(tag[1])
        elif tag in _BREAKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = 0
        elif tag in _BREAKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def html_blocks(markup: str) -> tuple[str, list[Block]]:
    parser = _Html()
    parser.feed(markup)
    parser.close()
    return " ".join(parser.title.split()), parser.blocks


def _read_html(path: Path, data: bytes) -> Extracted:
    title, blocks = html_blocks(decode_text(data))
    if not title:
        first = next((b for b in blocks if b.level), None)
        title = first.text if first else path.stem
    return Extracted(title=title, blocks=blocks)


# -- DOCX ----------------------------------------------------------------------------------


def _read_docx(path: Path, data: bytes) -> Extracted:
    import zipfile

    from docx import Document as open_docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = open_docx(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Unreadable(f"not a readable DOCX ({type(exc).__name__})") from None
    blocks: list[Block] = []
    for paragraph in document.paragraphs:
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = 0
        if style == "Title":
            level = 1
        elif match := re.match(r"Heading (\d)", style):
            level = min(6, int(match.group(1)))
        blocks.append(Block(text, level=level))
    for table in document.tables:
        for row in table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            if any(cells):
                blocks.append(Block(" | ".join(dict.fromkeys(c for c in cells if c))))
    title = (document.core_properties.title or "").strip()
    if not title:
        first = next((b for b in blocks if b.level), None)
        title = first.text if first else path.stem
    return Extracted(title=title, blocks=blocks)


# -- e-mail --------------------------------------------------------------------------------


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown or broken charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if part.get_content_subtype() == "html":
        return "\n\n".join(b.text for b in html_blocks(str(content))[1])
    return str(content)


def _message_blocks(message: EmailMessage) -> tuple[str, list[Block]]:
    subject = " ".join(str(message.get("subject", "") or "").split()) or "(no subject)"
    sender = str(message.get("from", "") or "")
    date = str(message.get("date", "") or "")
    heading = f"{subject} ({date})" if date else subject
    meta = f"From: {sender}" if sender else ""
    blocks = [Block(heading, level=1)]
    if meta:
        blocks.append(Block(meta))
    blocks += paragraphs(_body(message))
    return subject, blocks


def _read_email(path: Path, data: bytes) -> Extracted:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    if not message.keys():
        raise Unreadable("not an e-mail (no headers)")
    subject, blocks = _message_blocks(message)
    return Extracted(title=subject, blocks=blocks)


def _read_mbox(path: Path, data: bytes) -> Extracted:
    if not data.startswith(b"From "):
        raise Unreadable("not an mbox file (it must start with a 'From ' line)")
    # mailbox reads files only; the bytes were read once already (size cap, hash).
    with tempfile.NamedTemporaryFile(suffix=".mbox") as copy:
        copy.write(data)
        copy.flush()
        box = mailbox.mbox(copy.name, factory=None, create=False)
        blocks: list[Block] = []
        count = 0
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            blocks += _message_blocks(message)[1]
            count += 1
        box.close()
    return Extracted(title=f"{path.stem} ({count} messages)", blocks=blocks)


_READERS = {
    "markdown": _read_markdown,
    "text": _read_text,
    "pdf": _read_pdf,
    "html": _read_html,
    "docx": _read_docx,
    "email": _read_email,
    "mbox": _read_mbox,
}
