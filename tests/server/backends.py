"""Journal backends for tests: a fresh SQLite file or a fresh PostgreSQL schema per test.

PostgreSQL comes from ``$CLOSEOUT_TEST_POSTGRES_URL`` (``.ci/run`` starts a throwaway cluster
and sets it, see ``.ci/postgres.sh``). Each test gets its own schema, named in the URL's
``search_path``, dropped afterwards. Without the URL the PostgreSQL cases are skipped on a
developer's machine only: in CI (``$CI`` or ``$CLOSEOUT_REQUIRE_POSTGRES`` set) they fail,
so a missing database can never pass as a green run.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

POSTGRES_URL = os.environ.get("CLOSEOUT_TEST_POSTGRES_URL", "")
_REQUIRED = bool(os.environ.get("CI") or os.environ.get("CLOSEOUT_REQUIRE_POSTGRES"))
_schemas = itertools.count(1)

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]


def require_postgres() -> str:
    """The test cluster's URL; skip (developer machine) or fail (CI) when there is none."""
    if POSTGRES_URL:
        return POSTGRES_URL
    message = "PostgreSQL tests need $CLOSEOUT_TEST_POSTGRES_URL (see .ci/postgres.sh)"
    if _REQUIRED:
        pytest.fail(message + " and this is CI: they must run here")
    pytest.skip(message)


def with_schema(url: str, schema: str) -> str:
    """``url`` with its ``search_path`` set to ``schema``."""
    option = quote(f"-c search_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@pytest.fixture
def postgres_location() -> Iterator[str]:
    """A URL whose journal lives in a schema of its own (dropped after the test)."""
    import psycopg

    url = require_postgres()
    schema = f"t{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A fresh journal location on each backend: a SQLite path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "j.sqlite"
    return str(request.getfixturevalue("postgres_location"))


def run_sql(location: str | Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Run one statement directly on the journal's database (``?`` placeholders), committed:
    how the tests play a tamperer or a disk that lost data."""
    if isinstance(location, Path):
        conn = sqlite3.connect(location)
        try:
            rows = conn.execute(sql, params).fetchall()
            conn.commit()
        finally:
            conn.close()
        return rows
    import psycopg

    with psycopg.connect(location, autocommit=True) as pg:
        cur = pg.execute(sql.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []
