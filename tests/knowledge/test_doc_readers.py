"""Each kind of file to titled, structured blocks; and blocks to passages that keep
their heading and page."""

from __future__ import annotations

import io
from email.message import EmailMessage
from pathlib import Path

import pytest

from psi.benchmarks.pdfgen import make_pdf
from psi.knowledge.chunking import Block, chunk_blocks, split_long
from psi.knowledge.readers import Unreadable, read_document

VAULT_NOTE = """---
title: Porto trip
tags: [travel, family]
aliases: [porto]
---
# Porto trip

Visiting [[Grace Hopper|Grace]] in June, see [[Flights#Return]]. #todo/booking

## Packing

Bring the **blue** raincoat and the [passport](passport.md).

```python
# not a heading
```
"""


def test_obsidian_note_front_matter_tags_wiki_links_and_headings() -> None:
    doc = read_document(Path("Porto.md"), VAULT_NOTE.encode())
    assert doc.title == "Porto trip"
    assert doc.tags == ["travel", "family", "todo/booking"]
    assert doc.links == ["Grace Hopper", "Flights"]
    headings = [b.text for b in doc.blocks if b.level]
    assert headings == ["Porto trip", "Packing"]  # the # inside the fence is code
    text = " ".join(b.text for b in doc.blocks if not b.level)
    assert "Visiting Grace in June, see Flights." in text
    assert "Bring the blue raincoat and the passport." in text
    chunks = chunk_blocks(doc.blocks)
    assert [c.heading for c in chunks] == ["Porto trip", "Porto trip > Packing"]


def test_markdown_without_front_matter_takes_its_title_from_h1_or_the_file() -> None:
    assert read_document(Path("n.md"), b"# Boiler\n\nService in May.").title == "Boiler"
    assert read_document(Path("boiler notes.md"), b"Service in May.").title == "boiler notes"
    broken = b"---\ntitle: [unclosed\n---\nStill read."
    assert read_document(Path("b.md"), broken).blocks == [Block("Still read.")]


def test_pdf_pages_are_kept() -> None:
    data = make_pdf([["The boiler was serviced in May."], ["The passport expires in March."]])
    doc = read_document(Path("house.pdf"), data)
    assert doc.pages == 2
    chunks = chunk_blocks(doc.blocks)
    assert [(c.page, c.text) for c in chunks] == [
        (1, "The boiler was serviced in May."),
        (2, "The passport expires in March."),
    ]


def test_pdf_bookmarks_become_headings_of_their_pages() -> None:
    from pypdf import PdfWriter

    data = make_pdf([["Welcome."], ["Bleed the radiators in October."], ["Still heating."]])
    writer = PdfWriter(clone_from=io.BytesIO(data))
    heating = writer.add_outline_item(title="Heating", page_number=1)
    writer.add_outline_item(title="Radiators", page_number=1, parent=heating)
    out = io.BytesIO()
    writer.write(out)
    chunks = chunk_blocks(read_document(Path("house.pdf"), out.getvalue()).blocks)
    assert [(c.heading, c.page) for c in chunks] == [
        ("", 1),
        ("Heating > Radiators", 2),
        ("Heating > Radiators", 3),
    ]


def test_encrypted_and_corrupt_pdfs_say_why() -> None:
    from pypdf import PdfWriter

    data = make_pdf([["secret plans"]])
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password="hunter2", algorithm="AES-128")
    locked = io.BytesIO()
    writer.write(locked)
    with pytest.raises(Unreadable, match="encrypted PDF"):
        read_document(Path("locked.pdf"), locked.getvalue())
    with pytest.raises(Unreadable, match="not a readable PDF"):
        read_document(Path("torn.pdf"), data[: len(data) // 2])
    with pytest.raises(Unreadable, match="no text in this PDF"):
        read_document(Path("scan.pdf"), make_pdf([[]]))


def test_html_by_a_real_parser() -> None:
    page = b"""<html><head><title>Recipes</title><style>p{color:red}</style></head>
    <body><nav>Home | About</nav><h1>Bread</h1><p>Feed the starter <b>twice</b> a day.</p>
    <script>alert("hi")</script><h2>Baking</h2><ul><li>250 &deg;C</li><li>40 minutes</li></ul>
    </body></html>"""
    doc = read_document(Path("r.html"), page)
    assert doc.title == "Recipes"
    assert [(b.level, b.text) for b in doc.blocks] == [
        (1, "Bread"),
        (0, "Feed the starter twice a day."),
        (2, "Baking"),
        (0, "250 °C"),
        (0, "40 minutes"),
    ]


def test_docx_headings_paragraphs_and_tables() -> None:
    import docx

    document = docx.Document()
    document.add_heading("Lease", level=1)
    document.add_paragraph("The rent is due on the first of the month.")
    document.add_heading("Deposit", level=2)
    document.add_paragraph("Two months of rent.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Landlord"
    table.rows[0].cells[1].text = "Mr. Pereira"
    buffer = io.BytesIO()
    document.save(buffer)
    doc = read_document(Path("lease.docx"), buffer.getvalue())
    assert doc.title == "Lease"
    chunks = chunk_blocks(doc.blocks)
    assert chunks[0].heading == "Lease"
    assert chunks[-1].heading == "Lease > Deposit"
    assert "Landlord | Mr. Pereira" in chunks[-1].text
    with pytest.raises(Unreadable, match="not a readable DOCX"):
        read_document(Path("broken.docx"), b"PK\x03\x04 not really a zip")


def _mail(subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Grace <grace@example.org>"
    message["To"] = "ada@example.org"
    message["Subject"] = subject
    message["Date"] = "Mon, 04 May 2026 09:00:00 +0000"
    message.set_content(body)
    return message


def test_eml_and_mbox() -> None:
    eml = _mail("Flights to Porto", "I land at 14:05 on TP 1947.").as_bytes()
    doc = read_document(Path("flight.eml"), eml)
    assert doc.title == "Flights to Porto"
    assert chunk_blocks(doc.blocks)[0].heading.startswith("Flights to Porto (Mon, 04 May 2026")
    assert "TP 1947" in chunk_blocks(doc.blocks)[0].text
    box = b"".join(
        b"From grace@example.org Mon May  4 09:00:00 2026\n" + _mail(s, b).as_bytes() + b"\n"
        for s, b in [("Dinner", "Friday at eight."), ("Books", "Bring back Dune.")]
    )
    doc = read_document(Path("grace.mbox"), box)
    assert doc.title == "grace (2 messages)"
    chunks = chunk_blocks(doc.blocks)
    assert [c.heading.split(" (")[0] for c in chunks] == ["Dinner", "Books"]
    assert "Bring back Dune." in chunks[1].text


def test_binary_and_non_utf8_text_are_refused_with_the_reason() -> None:
    with pytest.raises(Unreadable, match=r"binary content in a \.md file"):
        read_document(Path("photo.md"), b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(Unreadable, match="not UTF-8 text"):
        read_document(Path("old.txt"), "Café au lait".encode("cp1252"))
    utf16 = "Grüße aus Köln".encode("utf-16")
    assert read_document(Path("w.txt"), utf16).blocks == [Block("Grüße aus Köln")]


def test_long_paragraphs_are_cut_at_sentences() -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(200))
    pieces = split_long(text, limit=300)
    assert all(len(p) <= 300 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == text
    chunks = chunk_blocks([Block(text)], target=500, limit=600)
    assert all(len(c.text) <= 600 for c in chunks) and len(chunks) > 5
