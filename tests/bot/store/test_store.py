"""The store on SQLite and PostgreSQL: migrations, bulk ingest, cursors, the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.clock import FakeClock
from bot.domain import Platform
from bot.store import models as m
from bot.store.migrate import alembic_config
from bot.store.store import Item, Store
from tests.factories import author, post


def test_migration_matches_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    alembic_config(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert diff == []


def test_ingest_stores_posts_once_and_moves_the_cursor(store: Store, clock: FakeClock) -> None:
    p1, p2 = post(), post()
    first = store.ingest(Platform.MASTODON, [Item(p1), Item(p2)], clock.now(), source="hashtag", cursor="20")
    assert first.stored == 2
    assert len(first.candidates) == 2
    again = store.ingest(
        Platform.MASTODON, [Item(p1), Item(p2), Item(p1)], clock.now(), source="hashtag", cursor="21"
    )
    assert again.stored == 0
    assert again.candidates == []
    assert again.skipped == {"duplicate": 3}
    assert store.cursors(Platform.MASTODON) == {"hashtag": "21"}


def test_same_post_id_on_two_platforms_are_two_posts(store: Store, clock: FakeClock) -> None:
    a = post(post_id="42")
    b = post(post_id="42", platform=Platform.BLUESKY)
    assert store.ingest(Platform.MASTODON, [Item(a)], clock.now()).stored == 1
    assert store.ingest(Platform.BLUESKY, [Item(b)], clock.now()).stored == 1


def test_one_account_row_per_author_with_handle_updates(
    store: Store, clock: FakeClock, engine: Engine
) -> None:
    maria = author("maria@med.example", account_id="7")
    store.ingest(Platform.MASTODON, [Item(post(by=maria)), Item(post(by=maria))], clock.now())
    renamed = author("maria.md@med.example", account_id="7")
    clock.advance(hours=1)
    store.ingest(Platform.MASTODON, [Item(post(by=renamed))], clock.now())
    with engine.connect() as conn:
        rows = conn.execute(select(m.Account.handle, m.Account.first_seen, m.Account.last_seen)).all()
    assert len(rows) == 1
    assert rows[0].handle == "maria.md@med.example"
    assert rows[0].last_seen - rows[0].first_seen == timedelta(hours=1)


def test_skipped_posts_are_stored_with_their_reason(store: Store, clock: FakeClock, engine: Engine) -> None:
    result = store.ingest(Platform.MASTODON, [Item(post(), skip="reply")], clock.now())
    assert result.stored == 1
    assert result.candidates == []
    assert result.skipped == {"reply": 1}
    with engine.connect() as conn:
        assert conn.execute(select(m.Post.skip_reason)).scalar_one() == "reply"


def test_opted_out_and_blocked_accounts_are_skipped_by_the_store(store: Store, clock: FakeClock) -> None:
    quiet, troll = author("quiet@med.example"), author("troll@bad.example")
    store.ingest(Platform.MASTODON, [Item(post(by=quiet)), Item(post(by=troll))], clock.now())
    store.set_account_flags(Platform.MASTODON, quiet.account_id, consent="out", source="command")
    with store.engine.begin() as conn:
        conn.execute(update(m.Account).where(m.Account.handle == troll.handle).values(blocked=True))
    result = store.ingest(Platform.MASTODON, [Item(post(by=quiet)), Item(post(by=troll))], clock.now())
    assert result.skipped == {"opted_out": 1, "blocked": 1}
    assert result.candidates == []


def test_a_nomination_queues_a_post_that_was_stored_but_skipped(store: Store, clock: FakeClock) -> None:
    reply = post(is_reply=True)
    store.ingest(Platform.MASTODON, [Item(reply, skip="reply")], clock.now())
    result = store.ingest(
        Platform.MASTODON, [Item(reply, reason="nomination", nominated_by="rosa")], clock.now()
    )
    assert len(result.candidates) == 1


def test_unique_constraints_hold_in_the_database(store: Store, clock: FakeClock, engine: Engine) -> None:
    store.ingest(Platform.MASTODON, [Item(post(post_id="1"))], clock.now())
    with engine.connect() as conn:
        row = conn.execute(select(m.Post)).first()
        assert row is not None
        values = {c.name: getattr(row, c.name) for c in m.Post.__table__.columns if c.name != "id"}
        with pytest.raises(IntegrityError):
            conn.execute(m.table(m.Post).insert().values(**values))


def test_decisions_are_append_only(store: Store, clock: FakeClock, engine: Engine) -> None:
    result = store.ingest(Platform.MASTODON, [Item(post())], clock.now())
    with engine.begin() as conn:
        conn.execute(
            m.table(m.Decision)
            .insert()
            .values(
                community_id=store.community_id,
                candidate_id=result.candidates[0],
                curator="ana",
                action="approve",
                at=clock.now(),
            )
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE decisions SET curator = 'mallory'"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM decisions"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.Decision)).scalar_one() == 1


def test_datetimes_come_back_aware_utc(store: Store, clock: FakeClock) -> None:
    p = post()
    result = store.ingest(Platform.MASTODON, [Item(p)], clock.now())
    again = store.post_of_candidate(result.candidates[0])
    assert again.created_at == p.created_at
    assert again.created_at.tzinfo is not None
    assert again.hashtags == p.hashtags
