"""Judgments at survey scale: one writer thread that group-commits.

A participant's browser waits for each acknowledgement before it shows the next image, so a
judgment must be acknowledged fast, and only once it is durably stored. Every judgment goes to
one writer thread. The writer takes all the judgments that arrived together, checks each
against what it knows of its session (the trials are fixed when a session starts; which trial
comes next is the writer's own count, since it is the only writer of judgments), inserts the
accepted ones and marks finished sessions in **one** transaction, commits, and only then
answers each request: many acknowledgements share one commit, and none comes before its row is
committed. The answers of a batch go back to the event loop in one call, not one wake-up per
judgment. A retry of a stored judgment (the browser did not hear the answer) is answered as
the first time and changes nothing; one whose first copy is in the same batch gets that copy's
answer.

What the writer keeps in memory is read from the database on first use and never trusted past
a failed transaction: it is dropped, and the batch is tried again judgment by judgment, so one
bad judgment (a study deleted meanwhile) cannot fail the others. One server writes to a
database (SQLite or PostgreSQL); the read side (a session's next trial) runs in plain read
transactions and never waits for this writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from server.batches import take_batch
from server.db import Database
from server.errors import Conflict, NotFound
from server.models import Judgment, Study, StudySession, StudyTrial, utcnow

__all__ = ["JudgmentWriter"]

log = logging.getLogger(__name__)

MAX_BATCH = 1000


@dataclass
class _Trial:
    phase: str
    images: int
    answer: int
    fake_shown: bool


@dataclass
class _Session:
    id: int
    study_id: str
    completion_code: str
    trials: list[_Trial]
    answered: int  # judgments stored (committed or in the batch being written)
    done: bool


@dataclass
class _Item:
    study_id: str
    token: str
    position: int
    response: int
    exposures_ms: list[float]
    response_ms: float
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future  # of ``loop``: set there, never from the writer thread


class JudgmentWriter:
    """``await writer.submit(study_id, token, body)`` -> the acknowledgement, after commit."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._sessions: dict[tuple[str, str], _Session] = {}
        self.batches = 0  # commits made (a test reads judgments per commit from it)
        self._thread = threading.Thread(target=self._run, name="judgment-writer", daemon=True)
        self._thread.start()

    # -- the caller's side --------------------------------------------------------------------

    async def submit(self, study_id: str, token: str, position: int, response: int,
                     exposures_ms: list[float], response_ms: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        item = _Item(study_id, token, position, response, list(exposures_ms), response_ms,
                     loop, loop.create_future())
        self._queue.put(item)
        return await item.future

    def stop(self, timeout: float = 30) -> None:
        """Answer what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    # -- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = take_batch(self._queue, MAX_BATCH)
            if batch:
                self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        try:
            answers = self._commit(batch)
        except Exception:
            log.exception("a batch of %d judgments failed; writing them one by one", len(batch))
            self._sessions.clear()
            for item in batch:
                try:
                    answers = self._commit([item])
                except Exception as exc:
                    self._sessions.clear()
                    answers = [exc]
                self._answer([(item, answers[0])])
            return
        self._answer(zip(batch, answers, strict=True))

    @staticmethod
    def _answer(answered: Iterable[tuple[_Item, Any]]) -> None:
        """Hand the answers to their event loops: one thread-safe call per loop and batch."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = {}
        for item, answer in answered:
            by_loop.setdefault(item.loop, []).append((item.future, answer))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these
                loop.call_soon_threadsafe(_settle, settled)

    def _commit(self, batch: list[_Item]) -> list[Any]:
        """One transaction for the batch; the answers (or errors) in its order."""
        answers: list[Any] = []
        rows: list[dict[str, Any]] = []
        finished: list[int] = []
        in_batch: dict[tuple[int, int], dict[str, Any]] = {}
        with self.db.write() as session:  # on an error nothing is stored: the caller drops
            for item in batch:            # what this writer knew and tries again
                try:
                    answers.append(self._judge(session, item, rows, finished, in_batch))
                except (NotFound, Conflict) as exc:
                    answers.append(exc)
            if rows:
                session.execute(insert(Judgment), rows)
            if finished:
                session.execute(update(StudySession).where(StudySession.id.in_(finished))
                                .values(completed_at=utcnow()))
        self.batches += 1
        for key in [k for k, s in self._sessions.items() if s.done]:
            del self._sessions[key]  # finished: a late retry reads it again
        return answers

    def _judge(self, db_session, item: _Item, rows: list[dict[str, Any]], finished: list[int],
               in_batch: dict[tuple[int, int], dict[str, Any]]) -> dict[str, Any]:
        s = self._session(db_session, item.study_id, item.token)
        if not 0 <= item.position < len(s.trials):
            raise NotFound(f"position: no trial {item.position}; this session has trials "
                           f"0..{len(s.trials) - 1}")
        trial = s.trials[item.position]
        if item.position < s.answered:  # a retry: answered as the first time
            first = in_batch.get((s.id, item.position))
            correct = (first["correct"] if first is not None else
                       db_session.execute(select(Judgment.correct).where(
                           Judgment.session_id == s.id,
                           Judgment.position == item.position)).scalar_one())
            return self._ack(s, item.position, trial, correct)
        if item.position != s.answered:
            raise Conflict(f"trial {s.answered} comes next, not {item.position}")
        if len(item.exposures_ms) != trial.images:
            raise Conflict(f"exposures_ms: trial {item.position} shows {trial.images} "
                           "image(s): send one measured exposure per image")
        correct = item.response == trial.answer
        row = {"session_id": s.id, "position": item.position, "response": item.response,
               "correct": correct, "fooled": trial.fake_shown and not correct,
               "exposures_ms": item.exposures_ms, "response_ms": item.response_ms,
               "created_at": utcnow()}
        rows.append(row)
        in_batch[(s.id, item.position)] = row
        s.answered += 1
        if s.answered == len(s.trials):
            s.done = True
            finished.append(s.id)
        return self._ack(s, item.position, trial, correct)

    @staticmethod
    def _ack(s: _Session, position: int, trial: _Trial, correct: bool) -> dict[str, Any]:
        done = s.done
        out: dict[str, Any] = {"position": position, "stored": True, "done": done,
                               "next_position": None if done else position + 1}
        if trial.phase == "practice":
            out["feedback"] = {"correct": correct, "answer": trial.answer}
        if done:
            out["completion_code"] = s.completion_code
        return out

    def _session(self, db_session, study_id: str, token: str) -> _Session:
        key = (study_id, token)
        found = self._sessions.get(key)
        if found is not None:
            return found
        study = db_session.get(Study, study_id)
        if study is None:
            raise NotFound(f"no study {study_id}")
        row = db_session.execute(select(StudySession).where(
            StudySession.study_id == study_id, StudySession.token == token)).scalar_one_or_none()
        if row is None:
            raise NotFound("no such session in this study")
        trials = [_Trial(t.phase, len(t.images), t.answer, t.fake_shown)
                  for t in db_session.execute(select(StudyTrial).where(
                      StudyTrial.session_id == row.id).order_by(StudyTrial.position)).scalars()]
        answered = db_session.execute(select(func.count()).where(
            Judgment.session_id == row.id)).scalar_one()
        found = _Session(row.id, study_id, study.completion_code, trials, answered,
                         row.completed_at is not None)
        self._sessions[key] = found
        return found


def _settle(settled: list[tuple[asyncio.Future, Any]]) -> None:
    for future, answer in settled:
        if future.done():  # the request was cancelled (its client went away); stored anyway
            continue
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)
