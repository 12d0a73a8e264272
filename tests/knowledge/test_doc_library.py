"""psi's document library on a real database: adding a folder with good and bad files,
incremental sync (edits, touches, moves, deletions), removal, search, and isolation."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from psi.benchmarks.pdfgen import make_pdf
from psi.clock import FrozenClock
from psi.config import DocsSettings, load_settings
from psi.embed.registry import get_embedder
from psi.knowledge.library import Library
from psi.store.db import Store, open_store
from support.database import all_rows

pytestmark = pytest.mark.databases  # on SQLite and PostgreSQL

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def library(store: Store, user: str = "local", **docs: float) -> Library:
    settings = load_settings()
    return Library(
        store,
        user_id=store.ensure_user(user),
        settings=DocsSettings(**docs),  # type: ignore[arg-type]
        embedder=lambda: get_embedder(settings),
        clock=FrozenClock(NOW),
    )


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(make_pdf([["Bank PIN is 0000."]])))
    writer.encrypt(user_password="hunter2", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    write(root / "Porto.md", "# Porto trip\n\n## Packing\n\nBring the blue raincoat.\n")
    write(root / "house" / "boiler.md", "# Boiler\n\nThe boiler was serviced on 3 May.\n")
    write(root / "house" / "manual.pdf", make_pdf([["Intro."], ["Descale the kettle monthly."]]))
    write(root / ".obsidian" / "workspace.md", "editor state, not a note")
    write(root / "locked.pdf", encrypted_pdf())
    write(root / "torn.pdf", make_pdf([["half a file"]])[:60])
    write(root / "photo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(root / "old.txt", "Caf\xe9 au lait recipe".encode("cp1252"))
    write(root / "huge.txt", "big " * 3000)  # 12 kB: over the 0.01 MB cap below
    write(root / "cat.jpg", b"\xff\xd8\xff")  # not a kind psi reads: passed over
    (root / "house" / "loop").symlink_to(root)  # a folder link back up
    (root / "dangling.md").symlink_to(root / "nowhere.md")
    return root


def test_add_reads_the_good_files_and_says_why_each_bad_one_was_skipped(
    store: Store, vault: Path
) -> None:
    docs = library(store, max_file_mb=0.01)
    report = docs.add([vault])
    assert sorted(Path(p).name for p in report.added) == ["Porto.md", "boiler.md", "manual.pdf"]
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["locked.pdf"] == "encrypted PDF (it needs a password)"
    assert reasons["torn.pdf"].startswith("not a readable PDF")
    assert reasons["photo.md"] == "binary content in a .md file"
    assert reasons["old.txt"].startswith("not UTF-8 text")
    assert reasons["huge.txt"] == "0.0 MB, over the 0.01 MB cap (raise docs.max_file_mb to read it)"
    assert reasons["loop"] == "symlink loop (it leads back to a folder above it)"
    assert reasons["dangling.md"] == "broken symlink"
    assert set(reasons) == {
        "locked.pdf", "torn.pdf", "photo.md", "old.txt", "huge.txt", "loop", "dangling.md"
    }  # fmt: skip
    assert report.pages == 4  # two notes, and the manual's two pages
    assert report.embedded == report.passages == 4

    hit = docs.search("how often should I descale the kettle?", limit=1)[0].passage
    assert (Path(hit.path).name, hit.page) == ("manual.pdf", 2)
    hit = docs.search("raincoat", limit=1)[0].passage
    assert (Path(hit.path).name, hit.heading) == ("Porto.md", "Porto trip > Packing")


def test_sync_reads_only_what_changed_and_follows_moves_and_deletions(
    store: Store, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    write(notes / "a.md", "# Dentist\n\nAppointment on Tuesday.\n")
    write(notes / "b.md", "# Garden\n\nPlant tulips in October.\n")
    write(notes / "c.md", "# Car\n\nTyres changed in April.\n")
    docs = library(store)
    docs.add([notes])
    before = {p.text: p.id for p in (h.passage for h in docs.search("tulips tyres", limit=5))}

    assert docs.sync().bytes_read == 0  # nothing changed: not a byte read

    write(notes / "a.md", "# Dentist\n\nAppointment moved to Thursday.\n")
    stamp = time.time() + 5
    os.utime(notes / "c.md", (stamp, stamp))  # touched, same content
    (notes / "b.md").rename(notes / "garden.md")  # renamed
    report = docs.sync()
    assert report.updated == [str(notes / "a.md")]
    assert report.moved == [(str(notes / "b.md"), str(notes / "garden.md"))]
    assert report.added == [] and report.removed == []
    assert report.unchanged == 1 and report.passages == 1 and report.embedded == 1
    assert [h.passage.text for h in docs.search("dentist appointment", limit=1)] == [
        "Appointment moved to Thursday."
    ]
    moved = docs.search("tulips", limit=1)[0].passage
    assert moved.path == str(notes / "garden.md")
    assert moved.id == before["Plant tulips in October."]  # passage and vector kept

    (notes / "c.md").unlink()
    report = docs.sync()
    assert report.removed == [str(notes / "c.md")]
    assert not any("Tyres" in h.passage.text for h in docs.search("tyres", limit=5))
    assert "Tyres changed" not in all_rows(store)  # gone from every table and index


def test_a_file_that_turns_unreadable_keeps_the_version_read_before(
    store: Store, tmp_path: Path
) -> None:
    note = write(tmp_path / "n" / "wifi.txt", "The wifi password is on the fridge.")
    docs = library(store)
    docs.add([note.parent])
    write(note, "The wifi password is \xe9t\xe9".encode("latin-1"))
    report = docs.sync()
    assert report.skipped[0].reason.endswith("(the version read before stays)")
    assert docs.search("wifi password", limit=1)[0].passage.text.endswith("on the fridge.")


def test_remove_a_file_inside_a_folder_keeps_it_out(store: Store, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes / "keep.md", "Groceries: oat milk.")
    write(notes / "private" / "diary.md", "Dear diary, the surprise party is on Friday.")
    docs = library(store)
    docs.add([notes])
    assert docs.remove(str(notes / "private")) == [str(notes / "private" / "diary.md")]
    assert docs.sync().added == []  # not read again
    assert docs.search("surprise party", limit=3) == [] or all(
        "diary" not in h.passage.path for h in docs.search("surprise party", limit=3)
    )
    assert docs.remove(str(notes)) == [str(notes / "keep.md")]
    assert docs.index.roots() == [] or all(out for _, _, out in docs.index.roots())
    assert docs.index.count() == 0


def test_each_user_sees_only_their_own_documents(store: Store, tmp_path: Path) -> None:
    write(tmp_path / "ada" / "plan.md", "Ada's secret plan: learn the cello.")
    write(tmp_path / "bob" / "plan.md", "Bob's plan: repaint the shed green.")
    ada, bob = library(store, "ada"), library(store, "bob")
    ada.add([tmp_path / "ada"])
    bob.add([tmp_path / "bob"])
    assert [h.passage.text for h in bob.search("cello plan", limit=5)] == [
        "Bob's plan: repaint the shed green."
    ]
    assert [d.path for d in bob.index.listed()] == [str(tmp_path / "bob" / "plan.md")]
    with pytest.raises(Exception, match="not among your documents"):
        bob.remove(str(tmp_path / "ada" / "plan.md"))
    assert ada.index.count() == 1


@pytest.mark.sqlite_only
def test_a_file_psi_may_not_read_is_skipped_with_the_reason() -> None:
    """Read as an ordinary user: root reads everything, so under root the reading runs
    in a child process that has become `nobody` (uid 65534), in a folder it can reach."""
    tmp_path = Path(tempfile.mkdtemp(prefix="psi-permissions-"))
    try:
        tmp_path.chmod(0o755)
        _read_as_nobody(tmp_path)
    finally:
        shutil.rmtree(tmp_path)


def _read_as_nobody(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes / "open.md", "Anyone may read this.")
    write(notes / "closed.md", "Nobody may read this.").chmod(0o000)
    home = tmp_path / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    url = f"sqlite:///{home / 'psi.db'}"
    warm = library(open_store(url))
    warm.add([write(tmp_path / "warm" / "w.md", "imports warmed")], embed=False)
    warm.index.store.dispose()
    for path in home.iterdir():
        path.chmod(0o666)
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            store = Store(url)
            report = Library(store, user_id=store.ensure_user("nobody")).add([notes], embed=False)
            result = {
                "added": report.added,
                "skipped": [[s.path, s.reason] for s in report.skipped],
            }
            os.write(writing, json.dumps(result).encode())
        except BaseException as exc:
            os.write(writing, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        result = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert "error" not in result, result
    assert result["added"] == [str(notes / "open.md")]
    assert result["skipped"] == [
        [str(notes / "closed.md"), "permission denied (psi may not read it)"]
    ]
