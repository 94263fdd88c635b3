"""Synthetic customer profiles for the export benchmarks, in SQLite and in PostgreSQL.

Run: ``.venv/bin/python benchmarks/profiles.py 1000000`` (``--postgres`` loads PostgreSQL too).

Each table has one row per profile row, ``(id, email)``, with the mess a real warehouse has:

- about 15% of addresses in mixed case and 2% padded with spaces or tabs;
- about 3% duplicate rows: an earlier profile's address again, in another case or padding;
- about 1% invalid rows: NULL, empty, ``n/a``, no domain, inner space, no dot in the domain, ``..``;
- about 0.2% non-ASCII addresses, half of them in decomposed (NFD) form.

The churned variant (``<table>_churn``) is the same table a day later: the rows of 1% of the
profiles carry a new address (1% left the segment, 1% joined), everything else is identical.
Rows are deterministic for a given size, so tables are rebuilt only when missing.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sqlite3
import unicodedata
from contextlib import closing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

SEED = 20261129
GENERATOR_VERSION = 1
POSTGRES_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"

FIRST = ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy", "mallory"]
LAST = ["smith", "martin", "garcia", "muller", "rossi", "dubois", "kowalski", "tanaka", "silva", "nguyen"]
DOMAINS = [
    "gmail.com",
    "yahoo.fr",
    "outlook.com",
    "hotmail.co.uk",
    "orange.fr",
    "example.com",
    "icloud.com",
    "web.de",
    "mail.example-shop.net",
    "free.fr",
]
INVALID = [None, "", "n/a", "john.doe@", "jane doe@example.com", "root@localhost", "a..b@example.com"]
NON_ASCII = ["josé", "zoë", "françois", "jürgen", "søren"]
CHURN_SHARE = 100  # one profile in CHURN_SHARE changes address in the churned variant


def table_name(size: int, churn: bool = False) -> str:
    """The table holding ``size`` rows (its churned variant with ``churn``)."""
    return f"bench_profiles_{size}" + ("_churn" if churn else "")


def address(profile: int, churn: bool) -> str:
    """The normalised address of one profile (a churned profile has a new one)."""
    domain = DOMAINS[profile % len(DOMAINS)]
    if churn and profile % CHURN_SHARE == 42:
        return f"joiner.{profile}@{domain}"
    first = FIRST[profile % len(FIRST)]
    last = LAST[(profile // len(FIRST)) % len(LAST)]
    if profile % 500 == 7:
        first = NON_ASCII[profile % len(NON_ASCII)]
    return f"{first}.{last}{profile}@{domain}"


def _messy(clean: str, rng: random.Random) -> str:
    """How the warehouse holds an address: maybe mixed case, maybe padded, maybe decomposed."""
    text = clean
    draw = rng.random()
    if draw < 0.10:
        text = text.title()
    elif draw < 0.15:
        local, _, domain = text.partition("@")
        text = f"{local}@{domain.upper()}"
    if not text.isascii() and rng.random() < 0.5:
        text = unicodedata.normalize("NFD", text)
    draw = rng.random()
    if draw < 0.01:
        text = f"  {text} "
    elif draw < 0.02:
        text = f"\t{text}"
    return text


def rows(size: int, churn: bool = False) -> Iterator[str | None]:
    """The ``size`` e-mail values of the table, in row order (the same draws with or without churn)."""
    rng = random.Random(SEED)
    profiles = 0
    for _ in range(size):
        draw = rng.random()
        if draw < 0.01:
            yield INVALID[rng.randrange(len(INVALID))]
        elif draw < 0.04 and profiles:
            yield _messy(address(rng.randrange(profiles), churn), rng)
        else:
            yield _messy(address(profiles, churn), rng)
            profiles += 1


def _fresh_tables(db: Any, size: int) -> Iterator[tuple[str, bool]]:
    """Create the meta table if missing, then (re-)create each table of ``size``: yield its name and kind."""
    db.execute("CREATE TABLE IF NOT EXISTS bench_meta (name TEXT PRIMARY KEY, version INTEGER)")
    for churn in (False, True):
        table = table_name(size, churn)
        db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, email TEXT)")
        yield table, churn


def sqlite_ready(path: str, size: int) -> bool:
    """Whether the SQLite file already holds both tables of this size and generator version."""
    with closing(sqlite3.connect(path)) as db:
        try:
            found = db.execute(
                "SELECT version FROM bench_meta WHERE name = ?", (table_name(size),)
            ).fetchone()
        except sqlite3.OperationalError:
            return False
    return found is not None and found[0] == GENERATOR_VERSION


def load_sqlite(path: str, size: int) -> None:
    """Create (or re-create) the two tables of ``size`` rows in the SQLite file ``path``."""
    with closing(sqlite3.connect(path)) as db:
        for table, churn in _fresh_tables(db, size):
            db.executemany(f"INSERT INTO {table} VALUES (?, ?)", enumerate(rows(size, churn), start=1))
        db.execute("INSERT OR REPLACE INTO bench_meta VALUES (?, ?)", (table_name(size), GENERATOR_VERSION))
        db.commit()


def postgres_ready(dsn: str, size: int) -> bool:
    """Whether PostgreSQL already holds both tables of this size and generator version."""
    import psycopg

    with psycopg.connect(dsn) as db:
        if db.execute("SELECT to_regclass('bench_meta')").fetchone() == (None,):
            return False
        found = db.execute("SELECT version FROM bench_meta WHERE name = %s", (table_name(size),)).fetchone()
    return found is not None and found[0] == GENERATOR_VERSION


def load_postgres(dsn: str, size: int) -> None:
    """Create (or re-create) the two tables of ``size`` rows in PostgreSQL, with COPY."""
    import psycopg

    with psycopg.connect(dsn) as db:
        for table, churn in _fresh_tables(db, size):
            with db.cursor().copy(f"COPY {table} (id, email) FROM STDIN") as copy:
                buffer = io.StringIO()
                for number, value in enumerate(rows(size, churn), start=1):
                    buffer.write(f"{number}\t{_copy_text(value)}\n")
                    if buffer.tell() > 1 << 20:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
            db.execute(f"ANALYZE {table}")
        db.execute(
            "INSERT INTO bench_meta VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version",
            (table_name(size), GENERATOR_VERSION),
        )


def _copy_text(value: str | None) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def ensure(size: int, *, sqlite_path: str | None = None, postgres_dsn: str | None = None) -> None:
    """Make sure the tables of ``size`` rows exist in the given databases."""
    if sqlite_path is not None and not sqlite_ready(sqlite_path, size):
        print(f"generating {size:,} profiles in {sqlite_path} ...", flush=True)
        load_sqlite(sqlite_path, size)
    if postgres_dsn is not None and not postgres_ready(postgres_dsn, size):
        print(f"generating {size:,} profiles in PostgreSQL ...", flush=True)
        load_postgres(postgres_dsn, size)


def main() -> None:
    """Generate the tables named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="+", type=int, help="numbers of rows")
    parser.add_argument("--sqlite", default="/tmp/criteo-bench/warehouse.db", help="SQLite file")
    parser.add_argument("--postgres", action="store_true", help=f"also load PostgreSQL ({POSTGRES_DSN})")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.sqlite), exist_ok=True)
    for size in args.sizes:
        ensure(size, sqlite_path=args.sqlite, postgres_dsn=POSTGRES_DSN if args.postgres else None)


if __name__ == "__main__":
    main()
