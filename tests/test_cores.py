"""psi.cores: a psi serve process keeps its Python threads on one core; the embedder still
computes on every core, and loading the embedded model puts the whole process back."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from psi import cores

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="CPU affinity is Linux's")

EVERY = frozenset(os.sched_getaffinity(0)) if sys.platform == "linux" else frozenset()


@pytest.fixture(autouse=True)
def _unpinned_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pinning is per thread; the tests pin threads of their own. What the module
    # remembers of the process is put back after each.
    monkeypatch.setattr(cores, "_everything", None)


def in_thread(work: Callable[[], Any]) -> Any:
    """`work()` on a thread of its own (so the test's thread stays as it was)."""
    found: list[Any] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            found.append(work())
        except BaseException as exc:  # handed to the test
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return found[0]


def test_a_pinned_thread_and_the_threads_it_starts_run_on_one_core() -> None:
    def work() -> tuple[int | None, set[int], set[int]]:
        core = cores.pin(1)
        child: list[set[int]] = []
        started = threading.Thread(target=lambda: child.append(os.sched_getaffinity(0)))
        started.start()
        started.join()
        return core, os.sched_getaffinity(0), child[0]

    core, mine, child = in_thread(work)
    assert core == sorted(EVERY)[1 % len(EVERY)]
    assert mine == child == {core}
    # The rest of the process is as it was, and psi still counts every core for compute.
    assert os.sched_getaffinity(0) == EVERY
    assert cores.available() == len(EVERY)


def test_unpinned_runs_a_block_on_every_core_and_then_pins_the_thread_back() -> None:
    def work() -> tuple[set[int], set[int], set[int]]:
        core = cores.pin(0)
        assert core is not None
        with cores.unpinned():
            inside = os.sched_getaffinity(0)
            pool: list[set[int]] = []  # a thread pool first started in the block
            started = threading.Thread(target=lambda: pool.append(os.sched_getaffinity(0)))
            started.start()
            started.join()
        return inside, pool[0], os.sched_getaffinity(0)

    inside, pool, after = in_thread(work)
    assert inside == pool == EVERY
    assert after == {sorted(EVERY)[0]}


def test_nothing_changes_in_a_process_that_never_pinned() -> None:
    with cores.unpinned():
        assert os.sched_getaffinity(0) == EVERY
    cores.release()
    assert os.sched_getaffinity(0) == EVERY
    assert not cores.pinned()


def test_release_puts_every_thread_of_the_process_back_on_every_core() -> None:
    parked = threading.Event()
    done = threading.Event()
    seen: dict[str, set[int]] = {}

    def sibling() -> None:  # a thread the pinned thread started, still running
        parked.set()
        done.wait(10)
        seen["sibling"] = os.sched_getaffinity(0)

    def work() -> None:
        cores.pin(0)
        other = threading.Thread(target=sibling)
        other.start()
        parked.wait(10)
        assert os.sched_getaffinity(0) == {sorted(EVERY)[0]}
        cores.release()
        seen["self"] = os.sched_getaffinity(0)
        done.set()
        other.join()

    in_thread(work)
    assert seen == {"self": set(EVERY), "sibling": set(EVERY)}
    assert not cores.pinned()


@pytest.mark.slow
def test_loading_the_embedded_model_releases_a_pinned_process() -> None:
    from psi.config import DEFAULT_MODEL_REF, Backend, ModelProfile
    from psi.llm import ChatOptions, Message
    from psi.llm.llamacpp import LlamaCppModel, resolve_model_file

    profile = ModelProfile(
        name="local", backend=Backend.llamacpp, model=DEFAULT_MODEL_REF, context_window=2048
    )

    def work() -> tuple[str, set[int], int]:
        cores.pin(0)
        path = resolve_model_file(DEFAULT_MODEL_REF, offline=True)
        model = LlamaCppModel(profile, model_path=path)
        try:
            reply = model.chat([Message.user("Say hello.")], options=ChatOptions(max_tokens=8))
        finally:
            model.close()
        return reply.text, os.sched_getaffinity(0), model.n_threads

    text, after, threads = in_thread(work)
    assert text.strip()
    # llama.cpp's threads, and the thread that asked, have every core.
    assert after == set(EVERY)
    assert threads == len(EVERY)


def test_a_system_that_refuses_pinning_leaves_the_process_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(pid: int, mask: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    assert cores.pin(0) is None
    assert not cores.pinned()
    with cores.unpinned():  # nothing to undo, and nothing raised
        pass
    assert cores.available() == len(EVERY)


def test_a_thread_inside_unpinned_when_the_process_is_released_stays_released() -> None:
    def work() -> set[int]:
        cores.pin(0)
        with cores.unpinned():
            cores.release()  # as when another thread loads the embedded model
        return os.sched_getaffinity(0)

    assert in_thread(work) == set(EVERY)
