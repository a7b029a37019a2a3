"""The db fixture against a real PostgreSQL: read-only, timed, with migration checks."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.fix_pytester import recorded_calls, recorded_fixture_calls


@pytest.fixture(scope="session")
def migrated(pg_dsn: str) -> str:
    """The test database with the tables of a migration checklist (created once, idempotently)."""
    with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text, ai_allowlisted boolean)")
        conn.execute("CREATE TABLE IF NOT EXISTS runs (id serial PRIMARY KEY, created_at timestamptz DEFAULT now())")
        conn.execute("CREATE TABLE IF NOT EXISTS summary_packs (id serial PRIMARY KEY, run_id int)")
        if conn.execute("SELECT count(*) FROM runs").fetchone() == (0,):
            conn.execute("INSERT INTO runs DEFAULT VALUES")
    return pg_dsn


def db_toml(dsn: str, extra: str = "") -> str:
    return f'[targets.t]\nbase_url = "http://127.0.0.1:9"\ntimeout = 3.0\ndatabase_url = "${{SMOKE_DSN}}"\n{extra}\n'


@pytest.fixture
def project(pytester: pytest.Pytester, migrated: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("SMOKE_DSN", migrated)
    pytester.makefile(".toml", deploysmoke=db_toml(migrated))
    return pytester


def test_migration_checks_pass_and_are_recorded(project: pytest.Pytester) -> None:
    """Tables and columns that exist pass; scalar queries work; every statement is recorded, the connect under the fixture."""
    project.makepyfile(
        test_db="""
        import pytest

        @pytest.mark.phase("migrations")
        def test_migrations(db):
            db.assert_tables("runs", "summary_packs", "users")
            db.assert_columns("users", "ai_allowlisted")
            assert db.scalar("SELECT count(*) FROM runs") >= 1
            assert db.execute("SELECT 1").fetchone() == (1,)
        """
    )
    reprec = project.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = recorded_calls(reprec)
    assert [c["action"] for c in recorded_fixture_calls(reprec, "db")] == ["connect"]
    assert "connect" not in [c["action"] for c in calls]
    assert "SELECT count(*) FROM runs" in [c["action"] for c in calls]
    assert all(c["kind"] == "db" and c["ok"] for c in calls)


def test_missing_tables_and_columns_are_named(project: pytest.Pytester) -> None:
    """A failed migration check names exactly what is missing."""
    project.makepyfile(
        test_db="""
        def test_tables(db):
            db.assert_tables("runs", "guided_reviews", "user_streaks")

        def test_columns(db):
            db.assert_columns("users", "email", "ai_allowlisted", "streak_days")
        """
    )
    reprec = project.inline_run("--deploy-target=t")
    failures = {r.nodeid.split("::")[1]: str(r.longrepr) for r in reprec.getfailures()}
    assert failures == {
        "test_tables": "missing tables in schema 'public': guided_reviews, user_streaks "
        "(expected runs, guided_reviews, user_streaks); did the migrations run?",
        "test_columns": "missing columns on public.users: streak_days; did the migrations run?",
    }


def test_session_is_read_only(project: pytest.Pytester) -> None:
    """An INSERT through db fails with PostgreSQL's read-only error, in one line."""
    project.makepyfile(test_db="def test_write(db):\n    db.execute('INSERT INTO runs DEFAULT VALUES')\n")
    result = project.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "SQL INSERT INTO runs DEFAULT VALUES: cannot execute INSERT in a read-only transaction; "
            "the db fixture's session is read-only, so smoke checks cannot write to the database"
        ]
    )


def test_wrong_password_is_one_line_without_the_password(
    pytester: pytest.Pytester, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that refuses the password fails the check with the redacted DSN and the fix."""
    parts = urlsplit(migrated)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:Wr0ng-pl4nted@{parts.hostname}:{parts.port}"))
    monkeypatch.setenv("SMOKE_DSN", wrong)
    pytester.makefile(".toml", deploysmoke=db_toml(wrong))
    pytester.makepyfile(test_db="def test_db(db):\n    pass\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"connect to postgresql://{parts.username}:***@{parts.hostname}:{parts.port}{parts.path} failed after * ms: "
            f'password authentication failed for user "{parts.username}"; check the user and password in database_url'
        ]
    )
    assert "Wr0ng-pl4nted" not in result.stdout.str() + result.stderr.str()


def test_refused_connection(pytester: pytest.Pytester, closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that is not listening fails with 'connection refused' and where it looked."""
    dsn = f"postgresql://smoke:pw-x@127.0.0.1:{closed_port}/smoke"
    monkeypatch.setenv("SMOKE_DSN", dsn)
    pytester.makefile(".toml", deploysmoke=db_toml(dsn))
    pytester.makepyfile(test_db="def test_db(db):\n    pass\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"connect to postgresql://smoke:***@127.0.0.1:{closed_port}/smoke failed after * ms: *Connection refused*"]
    )


def test_target_without_database_url_skips(pytester: pytest.Pytester) -> None:
    """A check using db on a target without database_url is skipped with the reason."""
    pytester.makefile(".toml", deploysmoke='[targets.prod]\nbase_url = "http://127.0.0.1:9"\n')
    pytester.makepyfile(test_db="def test_db(db):\n    pass\n")
    result = pytester.runpytest("--deploy-target=prod", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*target 'prod' has no database_url*"])


def test_statement_timeout_comes_from_target_timeout(project: pytest.Pytester) -> None:
    """A query running past the target's timeout is cancelled by the server."""
    project.makefile(".toml", deploysmoke=db_toml("x").replace("timeout = 3.0", "timeout = 0.5"))
    project.makepyfile(test_db="def test_slow(db):\n    db.execute('SELECT pg_sleep(3)')\n")
    result = project.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "SQL SELECT pg_sleep(3): canceling statement due to statement timeout; the statement ran past the target's timeout"
        ]
    )
