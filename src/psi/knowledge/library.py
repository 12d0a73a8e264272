"""One user's documents: add files and folders, keep them in step, search them.

    library = Library(store, user_id=1, settings=settings.docs, embedder=load)
    report = library.add([Path("~/notes").expanduser()])
    report.skipped            # [Skipped(path, "encrypted PDF (it needs a password)"), ...]
    library.sync()            # after edits: only what changed is read again
    library.search("when does the passport expire?", limit=4)

A sync walks every folder given (hidden ones such as .git, .obsidian and .trash
left out, symlinks followed, loops detected) and compares each file's size and
modification time with what the index holds: an unchanged file is not even read.
A changed one is hashed: the same content (a touch) only updates the time, content
seen under a path that vanished is a move (its passages and vectors stay), anything
else is read, chunked and indexed afresh. Files gone from disk leave the index. A
file that cannot be read (too big, encrypted, corrupt, binary, not UTF-8, no
permission) is skipped with its reason; a version read before stays indexed.

Search fuses keyword and vector candidates the way memory recall does
(psi.memory.rank: BM25 over its maximum, cosine min-max, summed), with the vectors
weighted lower (`DENSE_WEIGHT`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from psi.clock import Clock, system_clock
from psi.config import DocsSettings
from psi.errors import NotFound
from psi.knowledge.chunking import Chunk, chunk_blocks
from psi.knowledge.index import DocIndex, Passage, Stored
from psi.memory.rank import fuse, max_normalise, minmax_normalise
from psi.memory.service import TextEmbedder
from psi.store.db import Store

CANDIDATES = 100
EMBED_BATCH = 256
# Vectors count for less than keywords here than in memory recall (1.0): a passage is a
# few hundred words, and its one vector matches the few words people remember of it
# poorly. Chosen on a development set of State of the Union questions kept apart from
# the ones `psi bench docs` reports (known-item hit@1 0.26 -> 0.69 from weight 1 to
# 0.3; plain questions 0.3 -> 0.5, where keywords alone give 0.4).
DENSE_WEIGHT = 0.3

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Report:
    """What an add or a sync did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # paths given that do not exist
    pages: int = 0  # pages (PDF) or files (anything else) read
    bytes_read: int = 0
    passages: int = 0
    embedded: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.moved or self.removed)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float


@dataclass(frozen=True)
class _Found:
    path: Path
    root_id: int
    size: int
    mtime_ns: int


class Library:
    def __init__(
        self,
        store: Store,
        *,
        user_id: int,
        settings: DocsSettings | None = None,
        embedder: Callable[[], TextEmbedder | None] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.index = DocIndex(store, user_id=user_id)
        self.settings = settings or DocsSettings()
        self._embedder_factory = embedder
        self._embedder: TextEmbedder | None = None
        self._lock = threading.Lock()
        self.clock = clock

    # -- the embedder -------------------------------------------------------------------

    @property
    def dense_ready(self) -> bool:
        return self._embedder is not None

    def embedder(self) -> TextEmbedder | None:
        if self._embedder is None and self._embedder_factory is not None:
            with self._lock:
                if self._embedder is None:
                    self._embedder = self._embedder_factory()
        return self._embedder

    # -- adding and syncing -------------------------------------------------------------

    def add(
        self, paths: Sequence[Path], *, progress: Progress | None = None, embed: bool = True
    ) -> Report:
        """Remember `paths` (files or folders) and read what they hold."""
        report = Report()
        root_ids = []
        for given in paths:
            path = Path(os.path.abspath(given.expanduser()))
            if not os.path.lexists(path):
                report.missing.append(str(path))
                continue
            root_ids.append(self.index.add_root(str(path), at=self.clock()))
        if root_ids:
            self._sync(set(root_ids), report, progress=progress, embed=embed)
        return report

    def sync(self, *, progress: Progress | None = None, embed: bool = True) -> Report:
        """Bring the index in step with every file and folder added."""
        report = Report()
        roots = {root_id for root_id, _, excluded in self.index.roots() if not excluded}
        self._sync(roots, report, progress=progress, embed=embed)
        return report

    def _sync(
        self, root_ids: set[int], report: Report, *, progress: Progress | None, embed: bool
    ) -> None:
        roots = self.index.roots()
        excluded = [Path(path) for _, path, out in roots if out]
        found: dict[str, _Found] = {}
        for root_id, path, out in roots:
            if out or root_id not in root_ids:
                continue
            for item in _walk(Path(path), root_id, report.skipped):
                if not any(item.path == e or e in item.path.parents for e in excluded):
                    found.setdefault(str(item.path), item)
        stored = self.index.stored()
        gone = {
            path: known
            for path, known in stored.items()
            if known.root_id in root_ids and path not in found
        }
        gone_by_hash = {known.sha256: known for known in gone.values()}
        total = len(found)
        for done, (path, item) in enumerate(sorted(found.items()), start=1):
            self._one(item, stored.get(path), gone_by_hash, report)
            if progress is not None:
                progress("read", done, total)
        moved_ids = {known.id for known in gone_by_hash.values() if known.path not in gone}
        still_gone = [known for known in gone.values() if known.id not in moved_ids]
        self.index.remove([known.id for known in still_gone])
        report.removed += [known.path for known in still_gone]
        if report.removed:
            self.index.purge()
        if embed:
            report.embedded = self.embed_pending(progress)

    def _one(
        self,
        item: _Found,
        known: Stored | None,
        gone_by_hash: dict[str, Stored],
        report: Report,
    ) -> None:
        # The readers (e-mail, HTML, PDF) load when there is something to read, not
        # with every chat that may consult documents.
        from psi.knowledge.readers import Unreadable, kind_of, read_document

        path = str(item.path)
        if known is not None and (known.size, known.mtime_ns) == (item.size, item.mtime_ns):
            report.unchanged += 1
            return
        cap = self.settings.max_file_bytes
        if item.size > cap:
            report.skipped.append(
                Skipped(
                    path,
                    f"{item.size / 1e6:.1f} MB, over the {cap / 1e6:g} MB cap "
                    "(raise docs.max_file_mb to read it)",
                )
            )
            return
        try:
            with open(item.path, "rb") as handle:
                data = handle.read(cap + 1)
        except OSError as exc:
            report.skipped.append(Skipped(path, _os_reason(exc)))
            return
        if len(data) > cap:
            report.skipped.append(Skipped(path, f"grew over the {cap / 1e6:g} MB cap"))
            return
        digest = hashlib.sha256(data).hexdigest()
        if known is not None and known.sha256 == digest:
            self.index.touch(known.id, size=item.size, mtime_ns=item.mtime_ns)
            report.unchanged += 1
            return
        if known is None and digest in gone_by_hash:
            old = gone_by_hash[digest]
            self.index.move(old.id, path=path, root_id=item.root_id, mtime_ns=item.mtime_ns)
            report.moved.append((old.path, path))
            # Taken: the path it left is no longer gone, and no other file can claim it.
            gone_by_hash[digest] = Stored(old.id, path, old.size, old.mtime_ns, digest, None)
            return
        try:
            extracted = read_document(item.path, data)
        except Unreadable as exc:
            kept = " (the version read before stays)" if known is not None else ""
            report.skipped.append(Skipped(path, exc.reason + kept))
            return
        chunks = chunk_blocks(extracted.blocks, target=self.settings.chunk_chars)
        if not chunks:
            chunks = [Chunk(extracted.title)]
        self.index.put(
            path=path,
            root_id=item.root_id,
            fields={
                "kind": kind_of(item.path) or "text",
                "title": extracted.title,
                "tags": extracted.tags,
                "links": extracted.links,
                "size": item.size,
                "mtime_ns": item.mtime_ns,
                "sha256": digest,
                "pages": extracted.pages,
            },
            chunks=chunks,
            at=self.clock(),
        )
        (report.updated if known is not None else report.added).append(path)
        report.pages += extracted.pages or 1
        report.bytes_read += len(data)
        report.passages += len(chunks)

    def embed_pending(self, progress: Progress | None = None) -> int:
        """Embed every passage without a vector from the current embedder."""
        embedder = self.embedder()
        if embedder is None:
            return 0
        total = self.index.count_without_vectors(embedder.name)
        done = 0
        while todo := self.index.without_vectors(embedder.name, limit=EMBED_BATCH):
            vectors = embedder.embed([text for _, text in todo])
            self.index.set_vectors([i for i, _ in todo], vectors, embedder.name)
            done += len(todo)
            if progress is not None:
                progress("embed", done, max(total, done))
        return done

    # -- removing -----------------------------------------------------------------------

    def remove(self, target: str) -> list[str]:
        """Forget a file or folder (given by path, or a document by its id): its passages
        and vectors go; a file inside a folder that stays added is passed over from now
        on. The paths removed; NotFound when nothing matches."""
        stored = self.index.stored()
        if target.isdigit() and target not in stored:
            hits = [s for s in stored.values() if s.id == int(target)]
            if not hits:
                raise NotFound(
                    f"No document {target}.", hint="`psi docs list` shows ids and paths."
                )
            path = Path(hits[0].path)
        else:
            path = Path(os.path.abspath(Path(target).expanduser()))
        roots = self.index.roots()
        removed = [
            s for s in stored.values() if Path(s.path) == path or path in Path(s.path).parents
        ]
        own_root = [root_id for root_id, root, _ in roots if Path(root) == path]
        inside = [
            root_id
            for root_id, root, out in roots
            if not out and Path(root) in path.parents and not own_root
        ]
        if not removed and not own_root:
            raise NotFound(
                f"{path} is not among your documents.",
                hint="`psi docs list` shows what psi has read.",
            )
        self.index.remove([s.id for s in removed])
        for root_id in own_root:
            self.index.drop_root(root_id)
        if inside:
            self.index.add_root(str(path), at=self.clock(), excluded=True)
        self.index.purge()
        return sorted(s.path for s in removed)

    # -- searching ----------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 4, dense: bool = True) -> list[Hit]:
        """The passages most relevant to `query`, best first. Keyword-only when `dense` is
        off or no embedder is configured."""
        bm25 = {str(i): s for i, s in self.index.keyword_search(query, limit=CANDIDATES)}
        near: dict[str, float] = {}
        embedder = self.embedder() if dense else None
        if embedder is not None:
            vector = embedder.embed_query(query)
            near = {
                str(i): s for i, s in self.index.nearest(embedder.name, vector, limit=CANDIDATES)
            }
        fused = fuse([(max_normalise(bm25), 1.0), (minmax_normalise(near), DENSE_WEIGHT)])
        order = sorted(fused, key=lambda key: (-fused[key], int(key)))[:limit]
        passages = self.index.passages([int(key) for key in order])
        return [Hit(passages[int(key)], fused[key]) for key in order if int(key) in passages]


def _os_reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (psi may not read it)"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "vanished while being read, or a broken symlink"
    return exc.strerror or str(exc)


def _walk(root: Path, root_id: int, skipped: list[Skipped]) -> Iterator[_Found]:
    """Files of a kind psi reads under `root` (or `root` itself), symlinks followed once:
    a link back to a folder on the way is a loop, skipped with its reason."""
    from psi.knowledge.readers import kind_of

    try:
        info = root.stat()
    except OSError as exc:
        gone = exc.errno == errno.ENOENT and not root.is_symlink()
        skipped.append(Skipped(str(root), "not there any more" if gone else _os_reason(exc)))
        return
    if stat.S_ISREG(info.st_mode):
        if kind_of(root) is None:
            skipped.append(Skipped(str(root), "not a kind of file psi reads"))
            return
        yield _Found(root, root_id, info.st_size, info.st_mtime_ns)
        return
    if not stat.S_ISDIR(info.st_mode):
        skipped.append(Skipped(str(root), "not a file or a folder"))
        return
    # Folders on the path from the root to the one being read, by device and inode.
    stack: list[tuple[Path, tuple[tuple[int, int], ...]]] = [(root, ((info.st_dev, info.st_ino),))]
    seen: set[tuple[int, int]] = {(info.st_dev, info.st_ino)}
    while stack:
        folder, ancestors = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(str(folder), _os_reason(exc)))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                info = entry.stat()
            except OSError as exc:
                if entry.is_symlink() and exc.errno == errno.ENOENT:
                    skipped.append(Skipped(str(path), "broken symlink"))
                else:
                    skipped.append(Skipped(str(path), _os_reason(exc)))
                continue
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in ancestors:
                    skipped.append(
                        Skipped(str(path), "symlink loop (it leads back to a folder above it)")
                    )
                elif key not in seen:  # a second link to a folder already read: once is enough
                    seen.add(key)
                    stack.append((path, (*ancestors, key)))
            elif stat.S_ISREG(info.st_mode) and kind_of(path) is not None:
                yield _Found(path, root_id, info.st_size, info.st_mtime_ns)
