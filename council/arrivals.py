"""Web questions on their way in: stored in batches, answered at once, triaged just after.

A request hands its checked question to :class:`Arrivals` and waits. While one batch
commits on the writer thread, the next ones gather here; each batch is one write
(``intake.receive``), one commit, one answer per person. This is what makes intake
keep up with a burst (bench/intake.py): the cost of a commit is shared by everyone
who arrived during the previous one, and the person is answered as soon as the row
is durable.

The next batch's write already waits in the writer's queue while one is written, and
it takes its questions when it starts, on the writer thread: whoever came meanwhile.
Handing each batch over from the event loop instead left the writer idle for a third
of the time under load, while the loop answered the batch before.

Triage (duplicates, categories, flags) runs afterwards in short slices
(``triage.triage_arrivals``), with a pause between slices so that a backlog of
triage never holds the writer against new questions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from council.errors import CouncilError
from council.intake import Arrival, Received, receive
from council.moderation.triage import triage_arrivals

log = logging.getLogger(__name__)

# A batch is one transaction: bounded, so one batch never holds the write lock for long.
MAX_BATCH = 256
# One batch being written, the next waiting in the writer's queue to take who comes.
BATCHES_IN_FLIGHT = 2
# Between two slices of a triage backlog, new questions get the writer to themselves;
# longer while a burst is arriving: storing questions comes first, and nobody can
# moderate hundreds a second anyway.
TRIAGE_PAUSE_SECONDS = 0.02
TRIAGE_PAUSE_IN_A_BURST_SECONDS = 0.5
BURST_SECONDS = 1.0
MAX_SLICES_IN_A_ROW = 1000

Act = Callable[..., Awaitable[Any]]


@dataclass(slots=True)
class _Waiting:
    arrival: Arrival
    answer: asyncio.Future[Received]


class Arrivals:
    def __init__(self, act: Act) -> None:
        # ``Council.act``: runs a write, then publishes its events.
        self._act = act
        # Filled on the event loop, emptied on the writer thread (``take_and_receive``):
        # a deque's append and popleft are atomic.
        self._waiting: deque[_Waiting] = deque()
        self._batches: set[asyncio.Task[None]] = set()
        self._triage_wanted = asyncio.Event()
        self._triage: asyncio.Task[None] | None = None
        self._last_batch_at = 0.0
        self._stopped = False

    def start(self) -> None:
        # Questions stored before a crash or restart and never triaged get their turn now.
        self._triage = asyncio.create_task(self._triage_forever(), name="council-triage")
        self._triage_wanted.set()

    async def stop(self) -> None:
        self._stopped = True
        for task in [*self._batches, self._triage]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._batches.clear()
        self._triage = None

    async def submit(self, arrival: Arrival) -> Received:
        """Store one question; returns once it is committed (raises its error otherwise)."""
        answer: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(arrival, answer))
        self._send_batch_if_room()
        return await answer

    def _send_batch_if_room(self) -> None:
        if self._waiting and len(self._batches) < BATCHES_IN_FLIGHT and not self._stopped:
            batch = asyncio.create_task(self._one_batch(), name="council-arrivals")
            self._batches.add(batch)
            batch.add_done_callback(self._batch_done)

    def _batch_done(self, batch: asyncio.Task[None]) -> None:
        self._batches.discard(batch)
        self._send_batch_if_room()

    async def _one_batch(self) -> None:
        taken: list[_Waiting] = []
        outcomes: list[Received | CouncilError] | list[Exception]
        try:
            self._last_batch_at = time.monotonic()
            outcomes = await self._act(take_and_receive, waiting=self._waiting, taken=taken)
        except Exception as failed:  # the database itself: nobody in the batch is stored
            outcomes = [failed for _ in taken]
        for waiting, outcome in zip(taken, outcomes, strict=True):
            if waiting.answer.done():
                continue  # that request was cancelled; its question stands
            if isinstance(outcome, BaseException):
                waiting.answer.set_exception(outcome)
            else:
                waiting.answer.set_result(outcome)
        if taken:
            self._triage_wanted.set()

    async def _triage_backlog(self) -> None:
        for _slice in range(MAX_SLICES_IN_A_ROW):
            if not await self._act(triage_arrivals):
                return
            in_a_burst = time.monotonic() - self._last_batch_at < BURST_SECONDS
            await asyncio.sleep(
                TRIAGE_PAUSE_IN_A_BURST_SECONDS if in_a_burst else TRIAGE_PAUSE_SECONDS
            )
        self._triage_wanted.set()  # still more: go round again

    async def _triage_forever(self) -> None:
        while True:
            await self._triage_wanted.wait()
            self._triage_wanted.clear()
            try:
                await self._triage_backlog()
            except Exception:
                # Triage only suggests; whatever failed (the database away, a bug), questions
                # keep coming in, and the next arrival or this retry resumes it.
                log.exception("triage paused")
                await asyncio.sleep(1.0)
                self._triage_wanted.set()


def take_and_receive(
    session: Session, *, waiting: deque[_Waiting], taken: list[_Waiting]
) -> list[Received | CouncilError]:
    """On the writer thread: store the questions waiting when this write starts.

    What it took goes into ``taken`` first, so that if the write fails, the loop still
    knows whom to tell. Nothing waiting (the batch before took them all): no statement.
    """
    while waiting and len(taken) < MAX_BATCH:
        taken.append(waiting.popleft())
    if not taken:
        return []
    return receive(session, arrivals=[w.arrival for w in taken])
