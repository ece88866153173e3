"""`python cli.py seed`: realistic data, written in bulk, that keeps every timeline rule."""

from __future__ import annotations

import sqlalchemy as sa

from tests.processes import assert_one_error_line, clean_env, run_cli


def seeded(tmp_path, *extra):
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    env = clean_env(tmp_path, APP_ENV="development", SQL_DATABASE_URI=url)
    assert run_cli("migrate", env=env).returncode == 0
    result = run_cli("seed", "--tenant-id", "acme", "--users", "4", "--days", "21", *extra, env=env)
    return result, sa.create_engine(url), env


def test_seed_fills_a_tenant_with_a_catalog_users_and_weekday_entries(tmp_path):
    result, engine, _ = seeded(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 users" in result.stderr
    with engine.connect() as connection:
        count = lambda table: connection.exec_driver_sql(  # noqa: E731
            f"SELECT count(*) FROM {table} WHERE tenant_id = 'acme'"
        ).scalar_one()
        entries = count("time_entry")
        assert count("users") == 4
        assert count("activity") > 0 and count("customer") > 0 and count("project") > 0
        # 15 weekdays in 21 days, three to five entries a day, for four people.
        assert 4 * 15 * 3 <= entries <= 4 * 15 * 5
        assert f"{entries:,} time entries" in result.stderr
        unknown_projects = connection.exec_driver_sql(
            "SELECT count(*) FROM time_entry e LEFT JOIN project p ON p.id = e.project_id "
            "WHERE p.id IS NULL"
        ).scalar_one()
        assert unknown_projects == 0


def test_seeded_timelines_never_overlap_and_never_end_in_the_future(tmp_path):
    result, engine, _ = seeded(tmp_path)
    assert result.returncode == 0, result.stderr
    with engine.connect() as connection:
        overlaps = connection.exec_driver_sql(
            "SELECT count(*) FROM time_entry a JOIN time_entry b "
            "ON a.owner_id = b.owner_id AND a.id < b.id "
            "AND a.start_date < b.end_date AND b.start_date < a.end_date"
        ).scalar_one()
        future = connection.exec_driver_sql(
            "SELECT count(*) FROM time_entry WHERE end_date > CURRENT_TIMESTAMP"
        ).scalar_one()
    assert overlaps == 0
    assert future == 0


def test_the_same_seed_gives_the_same_data(tmp_path):
    first, first_engine, _ = seeded(tmp_path / "one", "--seed", "7")
    second, second_engine, _ = seeded(tmp_path / "two", "--seed", "7")
    query = "SELECT id, start_date FROM time_entry ORDER BY id"
    with first_engine.connect() as one, second_engine.connect() as two:
        assert one.exec_driver_sql(query).all() == two.exec_driver_sql(query).all()


def test_seeding_a_tenant_that_has_data_is_refused_in_one_line(tmp_path):
    _, _, env = seeded(tmp_path)
    again = run_cli("seed", "--tenant-id", "acme", "--users", "1", "--days", "1", env=env)
    assert_one_error_line(again, "cli.py: error: Tenant acme already has a catalog")
