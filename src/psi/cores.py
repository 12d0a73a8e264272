"""Which CPU cores psi's threads run on: a `psi serve` process on one core, native compute
(the embedded model, the embedder) on all of them.

    cores.pin(0)                  # this thread, and the threads it starts, on one core
    with cores.unpinned():        # here, and in thread pools started here: every core
        embedder.embed(texts)
    cores.release()               # every thread on every core again (the embedded model)
    cores.available()             # the cores psi may use, pinned or not

Python runs one thread at a time (the interpreter lock). A server process's threads (the
event loop, the turns' worker threads, the memory indexer) hand that lock to each other
many times a request; when the next holder sleeps on another core, waking it costs a
cross-core interrupt, which on a virtual machine is slow: on 2 cores, one process pinned
to one core answered about 40% more chat requests per second at about half the p99
(BENCHMARKS.md, psi serve load). Compute that leaves the interpreter lock behind spreads
over threads of its own: the embedder's (ONNX Runtime, torch) loads and runs unpinned, as
fast as in a process never pinned. The embedded model releases the whole process first
(`release`): its tokens outweigh a reply's own work, so pinning gains nothing there.
Native runtimes count their cores as they load (OpenMP: llama.cpp loaded on a pinned
thread took 1.6 times as long per reply), so they are loaded unpinned too.

Linux only: elsewhere `pin` does nothing and `unpinned` is a no-op.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# The cores this process could use before `pin` narrowed it; None until it pins.
_everything: frozenset[int] | None = None


def _supported() -> bool:
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def available() -> int:
    """How many cores psi's compute may spread over (all the process may use, pinned or
    not): the default thread count of the embedded model and the embedder."""
    if _everything is not None:
        return len(_everything)
    if _supported():
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pin(index: int) -> int | None:
    """Put the calling thread, and every thread it starts from now on, on one core: the
    `index`-th of those the process may use (round robin). The core's number, or None
    where the system cannot pin."""
    global _everything
    if not _supported():
        return None
    every = frozenset(os.sched_getaffinity(0)) if _everything is None else _everything
    core = sorted(every)[index % len(every)]
    try:
        os.sched_setaffinity(0, {core})
    except OSError:  # a sandbox that forbids it: the process runs as it would unpinned
        return None
    _everything = every
    return core


def pinned() -> bool:
    return _everything is not None


@contextlib.contextmanager
def unpinned() -> Iterator[None]:
    """Run the block (and thread pools first started in it) on every core the process may
    use, then put the calling thread back where it was."""
    if _everything is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, _everything)
    try:
        yield
    finally:
        if _everything is not None:  # unless the process was released meanwhile
            os.sched_setaffinity(0, before)


def release() -> None:
    """Put every thread of the process back on every core, for good: for a process that
    from now on computes on threads of its own for long stretches (the embedded model's
    tokens), beside which a reply's own work is small and pinning gains nothing."""
    global _everything
    if _everything is None:
        return
    every, _everything = _everything, None
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(task), every)
