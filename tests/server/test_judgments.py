"""The judgment writer in-process, on SQLite and PostgreSQL: judgments that arrive together share
one commit and each is acknowledged only after it; retries are answered as the first time;
out-of-order, unknown and orphaned judgments get their own error without failing the others."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.db import Database, migrate
from server.errors import Conflict, NotFound
from server.models import Judgment, PoolImage, Study, StudyCondition, StudySession
from server.studies import JudgmentWriter, SessionStart, StudyStore
from tests.server.databases import KINDS, database_url

TRIALS = 6  # 2 practice + 4 main


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path):
    with database_url(request.param, tmp_path) as url:
        database = Database(url)
        migrate(database)
        yield database
        database.dispose()


def make_study(db: Database, study_id: str = "aaaaaaaaaaaa") -> StudyStore:
    store = StudyStore(db, Path("/nonexistent"))
    study = Study(id=study_id, name="s", protocol="2afc", presentation="sequential",
                  exposure_ms=1000, gap_ms=300, practice_trials=2, main_trials=4,
                  vigilance_rate=0.0, vigilance_pass=0.75, instructions="", completion_code="DONE1",
                  real_source="digits", seed=1, status="open")
    condition = StudyCondition(study_id=study_id, position=0, label="G", run_id="b" * 12,
                               step=4, ema=True)
    pools = {("fake", 0): [f"{study_id}f{i:019d}" for i in range(4)],
             ("real", None): [f"{study_id}r{i:019d}" for i in range(4)]}
    store.insert(study, [condition], pools)
    return store


def participants(store: StudyStore, study_id: str, n: int) -> list[str]:
    return [store.start(study_id, SessionStart(participant=f"P{i}"), None)["token"]
            for i in range(n)]


def judge(writer: JudgmentWriter, study_id: str, token: str, position: int):
    return writer.submit(study_id, token, position, position % 2, [1000.0, 1000.0], 500.0)


def test_judgments_that_arrive_together_share_a_commit(db: Database) -> None:
    store = make_study(db)
    tokens = participants(store, "aaaaaaaaaaaa", 20)
    writer = JudgmentWriter(db)
    seen_at_ack: list[int] = []

    def stored(token: str, position: int) -> int:
        with db.read() as session:  # another connection: only what is committed
            return session.execute(select(Judgment.position).join(StudySession).where(
                StudySession.token == token, Judgment.position == position)).scalar_one()

    async def one(token: str) -> None:
        for position in range(TRIALS):
            ack = await judge(writer, "aaaaaaaaaaaa", token, position)
            # acknowledged: already committed
            seen_at_ack.append(await asyncio.to_thread(stored, token, position))
            assert ack["position"] == position and ack["stored"] is True
            assert ack["done"] is (position == TRIALS - 1)
            assert ("feedback" in ack) is (position < 2)  # practice trials get feedback
            if ack["done"]:
                assert ack["completion_code"] == "DONE1" and ack["next_position"] is None

    async def everyone() -> None:
        await asyncio.gather(*(one(t) for t in tokens))

    asyncio.run(everyone())
    writer.stop()
    assert len(seen_at_ack) == 20 * TRIALS
    assert writer.batches < 20 * TRIALS / 2  # grouped: far fewer commits than judgments
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Judgment)).scalar_one() == 120
        done = session.execute(select(func.count()).where(
            StudySession.completed_at.is_not(None))).scalar_one()
    assert done == 20


def test_retries_errors_and_a_deleted_study(db: Database) -> None:
    store = make_study(db, "aaaaaaaaaaaa")
    other = make_study(db, "cccccccccccc")
    [token] = participants(store, "aaaaaaaaaaaa", 1)
    [doomed] = participants(other, "cccccccccccc", 1)
    writer = JudgmentWriter(db)

    async def scenario() -> None:
        first = await judge(writer, "aaaaaaaaaaaa", token, 0)
        # the same trial again, alone and twice in one batch: the first answer, stored once
        again = await judge(writer, "aaaaaaaaaaaa", token, 0)
        assert again == first
        pair = await asyncio.gather(judge(writer, "aaaaaaaaaaaa", token, 1),
                                    judge(writer, "aaaaaaaaaaaa", token, 1))
        assert pair[0] == pair[1] and pair[0]["next_position"] == 2
        with pytest.raises(Conflict, match="trial 2 comes next, not 4"):
            await judge(writer, "aaaaaaaaaaaa", token, 4)
        with pytest.raises(NotFound, match="no trial 99"):
            await judge(writer, "aaaaaaaaaaaa", token, 99)
        with pytest.raises(NotFound, match="no such session"):
            await judge(writer, "aaaaaaaaaaaa", "x" * 32, 0)
        with pytest.raises(Conflict, match="one measured exposure per image"):
            await writer.submit("aaaaaaaaaaaa", token, 2, 0, [1000.0], 500.0)
        await judge(writer, "cccccccccccc", doomed, 0)  # the writer now knows this session
        other.delete("cccccccccccc")  # deleted behind the writer's back
        results = await asyncio.gather(judge(writer, "cccccccccccc", doomed, 1),
                                       judge(writer, "aaaaaaaaaaaa", token, 2),
                                       return_exceptions=True)
        assert isinstance(results[0], NotFound)  # the orphan fails alone
        assert results[1]["position"] == 2 and results[1]["stored"] is True

    asyncio.run(scenario())
    writer.stop()
    with db.read() as session:
        positions = session.execute(select(Judgment.position).join(StudySession).where(
            StudySession.token == token).order_by(Judgment.position)).scalars().all()
        assert positions == [0, 1, 2]
        assert session.execute(select(func.count()).select_from(PoolImage)).scalar_one() == 8


def test_a_participant_who_goes_away_mid_request(db: Database) -> None:
    """A request cancelled while its judgment waits for the commit (the browser closed): the
    judgment is still stored, the others that shared its batch are answered, and the
    participant's retry on return gets the first answer."""
    store = make_study(db)
    tokens = participants(store, "aaaaaaaaaaaa", 5)
    writer = JudgmentWriter(db)

    async def scenario() -> None:
        gone = asyncio.ensure_future(judge(writer, "aaaaaaaaaaaa", tokens[0], 0))
        others = [asyncio.ensure_future(judge(writer, "aaaaaaaaaaaa", t, 0)) for t in tokens[1:]]
        await asyncio.sleep(0)  # all five queued
        gone.cancel()
        answers = await asyncio.wait_for(asyncio.gather(*others), 30)
        assert [a["next_position"] for a in answers] == [1] * 4
        assert gone.cancelled()
        again = await asyncio.wait_for(judge(writer, "aaaaaaaaaaaa", tokens[0], 0), 30)
        assert again == answers[0]

    asyncio.run(scenario())
    writer.stop()
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Judgment)).scalar_one() == 5
