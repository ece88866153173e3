"""`python cli.py seed`: realistic data up to now, written in bulk, that keeps every timeline
rule, and seeding again extends the timelines to the new now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.backends import SQL_BACKENDS, create_database
from tests.processes import assert_one_error_line, clean_env, run_cli

WEDNESDAY_AFTERNOON = "2026-11-25T15:00:00+00:00"


def seeded(tmp_path, *extra, url=None):
    url = url or f"sqlite:///{tmp_path / 'seed.db'}"
    env = clean_env(tmp_path, APP_ENV="development", SQL_DATABASE_URI=url)
    assert run_cli("migrate", env=env).returncode == 0
    result = seed(env, *extra)
    return result, sa.create_engine(url), env


def seed(env, *extra):
    return run_cli("seed", "--tenant-id", "acme", "--users", "4", "--days", "21", *extra, env=env)


def rows(engine, query):
    with engine.connect() as connection:
        return connection.exec_driver_sql(query).all()


def timelines(engine):
    """Each person's entries as (id, start, end), oldest first; a running one ends in None."""
    found: dict[str, list[tuple[str, datetime, datetime | None]]] = {}
    for owner, entry_id, start, end in rows(
        engine,
        "SELECT owner_id, id, start_date, end_date FROM time_entry WHERE tenant_id = 'acme'"
        " ORDER BY owner_id, start_date",
    ):
        found.setdefault(owner, []).append((entry_id, as_utc(start), as_utc(end)))
    return found


def as_utc(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def assert_timeline_rules(engine, now, timers=3):
    """No overlaps, nothing after now, one running entry for each of the first `timers`."""
    people = timelines(engine)
    assert len(people) == 4
    for number, owner in enumerate(sorted(people), start=1):
        entries = people[owner]
        for (_, start, end), (_, next_start, _) in zip(entries, entries[1:], strict=False):
            assert end is not None and start < end <= next_start, owner
        last_id, last_start, last_end = entries[-1]
        assert last_start <= now
        assert (last_end or last_start) <= now
        assert (last_end is None) == (number <= timers), owner
    return people


def test_seed_fills_a_tenant_with_a_catalog_users_and_weekday_entries(tmp_path):
    result, engine, _ = seeded(tmp_path, "--now", WEDNESDAY_AFTERNOON)
    assert result.returncode == 0, result.stderr
    assert "4 users" in result.stderr
    with engine.connect() as connection:
        count = lambda table: connection.exec_driver_sql(  # noqa: E731
            f"SELECT count(*) FROM {table} WHERE tenant_id = 'acme'"
        ).scalar_one()
        entries = count("time_entry")
        assert count("users") == 4
        assert count("activity") > 0 and count("customer") > 0 and count("project") > 0
        # 15 weekdays in the 21 days up to that Wednesday, three to five entries a day, for
        # four people; today's only up to 15:00 and, for three of them, a timer running.
        assert 4 * 14 * 3 + 4 <= entries <= 4 * 15 * 5 + 3
        assert f"{entries:,} time entries (3 running)" in result.stderr
        unknown_projects = connection.exec_driver_sql(
            "SELECT count(*) FROM time_entry e LEFT JOIN project p ON p.id = e.project_id "
            "WHERE p.id IS NULL"
        ).scalar_one()
        assert unknown_projects == 0


def test_seeded_timelines_reach_now_never_overlap_and_never_end_in_the_future(tmp_path):
    result, engine, _ = seeded(tmp_path)
    assert result.returncode == 0, result.stderr
    now = datetime.now(UTC)
    people = assert_timeline_rules(engine, now)
    for entries in people.values():
        assert entries[-1][1] > now - timedelta(hours=24)  # the latest started today
    future = rows(engine, "SELECT count(*) FROM time_entry WHERE end_date > CURRENT_TIMESTAMP")
    assert future == [(0,)]


def test_early_in_the_morning_today_already_has_entries_and_timers(tmp_path):
    now = datetime(2026, 12, 1, 0, 20, tzinfo=UTC)  # a Tuesday, twenty past midnight
    result, engine, _ = seeded(tmp_path, "--now", now.isoformat())
    assert result.returncode == 0, result.stderr
    people = assert_timeline_rules(engine, now)
    midnight = now.replace(minute=0)
    for entries in people.values():
        today = [(start, end) for _, start, end in entries if start >= midnight]
        assert today and all(end is None or end <= now for _, end in today)


def test_on_a_saturday_today_is_worked_too(tmp_path):
    now = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)  # Saturday
    result, engine, _ = seeded(tmp_path, "--now", now.isoformat())
    assert result.returncode == 0, result.stderr
    people = assert_timeline_rules(engine, now)
    last_weekend = datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    for entries in people.values():
        assert not [s for _, s, _ in entries if last_weekend[0] <= s < last_weekend[1]]
        assert [s for _, s, _ in entries if s >= now.replace(hour=0)]


def test_the_same_seed_gives_the_same_data(tmp_path):
    first, first_engine, _ = seeded(tmp_path / "one", "--seed", "7", "--now", WEDNESDAY_AFTERNOON)
    second, second_engine, _ = seeded(tmp_path / "two", "--seed", "7", "--now", WEDNESDAY_AFTERNOON)
    query = "SELECT id, start_date, end_date FROM time_entry ORDER BY id"
    assert rows(first_engine, query) == rows(second_engine, query)


def test_seeding_again_extends_the_timelines_to_now_and_writes_nothing_twice(tmp_path):
    first, engine, env = seeded(tmp_path / "old", "--now", "2026-11-20T10:30:00+00:00")
    assert first.returncode == 0, first.stderr
    before = timelines(engine)
    later = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # early, days later

    extended = seed(env, "--now", later.isoformat())
    assert extended.returncode == 0, extended.stderr
    assert "Extended tenant acme to now:" in extended.stderr
    assert "3 running entries ended, 3 running" in extended.stderr
    after = assert_timeline_rules(engine, later)
    for owner, entries in before.items():  # what was there stays, only timers were stopped
        kept = {entry_id: start for entry_id, start, _ in after[owner]}
        assert all(kept[entry_id] == start for entry_id, start, _ in entries)
        assert len(after[owner]) > len(entries)

    again = seed(env, "--now", later.isoformat())
    assert again.returncode == 0, again.stderr
    assert "0 time entries added, 0 running entries ended, 3 running" in again.stderr
    assert timelines(engine) == after

    # The days between are the days a fresh seed makes.
    _, fresh, _ = seeded(tmp_path / "fresh", "--now", later.isoformat())
    between = lambda people: {  # noqa: E731
        entry_id
        for entries in people.values()
        for entry_id, start, _ in entries
        if datetime(2026, 11, 21, tzinfo=UTC) <= start < datetime(2026, 11, 25, tzinfo=UTC)
    }
    assert between(after) == between(timelines(fresh))


def test_seeding_a_tenant_whose_catalog_another_seed_made_is_refused_in_one_line(tmp_path):
    _, _, env = seeded(tmp_path)
    again = run_cli(
        "seed", "--tenant-id", "acme", "--users", "1", "--days", "1", "--seed", "2", env=env
    )
    assert_one_error_line(again, "cli.py: error: Tenant acme already has a catalog")


def test_seed_refreshes_the_database_statistics(tmp_path):
    result, engine, _ = seeded(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Analyzed the tables" in result.stderr
    assert rows(engine, "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'time_entry'")[0][0] > 0


@pytest.mark.parametrize("backend", [b for b in SQL_BACKENDS if b != "sqlite"])
def test_seed_analyzes_postgresql_and_mariadb(tmp_path, backend):
    database = create_database(backend, tmp_path)
    try:
        result, engine, _ = seeded(tmp_path, "--now", WEDNESDAY_AFTERNOON, url=database.url)
        assert result.returncode == 0, result.stderr
        assert "Analyzed the tables" in result.stderr
        if backend == "postgresql":
            analyzed = (
                "SELECT last_analyze IS NOT NULL AND last_vacuum IS NOT NULL"
                " FROM pg_stat_user_tables WHERE relname = 'time_entry'"
            )
        else:
            analyzed = (
                "SELECT count(*) FROM mysql.innodb_table_stats WHERE table_name = 'time_entry'"
                " AND database_name = DATABASE()"
            )
        assert rows(engine, analyzed)[0][0]
        assert_timeline_rules(engine, datetime.fromisoformat(WEDNESDAY_AFTERNOON))
        engine.dispose()
    finally:
        database.drop()
