"""The floor of an export: only the irreducible work, with no provider code.

Reads the column with the raw database driver, normalises (strip + lower), SHA-256-hashes,
JSON-encodes batches of 50,000 identifiers and PATCHes them to the emulator (after fetching a
token and creating an audience segment). No validation, no de-duplication, no snapshot, no retry.
``export_bench.py`` runs it on the same data and emulator as the operator and reports the ratio.
With ``--read-only`` it stops after hashing, sending nothing: the floor of a mirror rerun, which must
read and hash every row to know who joined and who left, whatever little it then sends.

Run: ``.venv/bin/python benchmarks/floor.py --url http://127.0.0.1:8089 --sqlite FILE --table T``
(or ``--postgres DSN``); it prints one JSON line: seconds (wall and CPU), rows, identifiers hashed
and sent, requests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from collections.abc import Iterator

BATCH = 50_000
FETCH = 10_000
API = "/2026-07/marketing-solutions"


def read_sqlite(path: str, table: str) -> Iterator[Any]:
    """The column, streamed from SQLite."""
    import sqlite3

    db = sqlite3.connect(path)
    try:
        cursor = db.execute(f"SELECT email FROM {table}")
        while rows := cursor.fetchmany(FETCH):
            for (value,) in rows:
                yield value
    finally:
        db.close()


def read_postgres(dsn: str, table: str) -> Iterator[Any]:
    """The column, streamed from PostgreSQL through a server-side cursor."""
    import psycopg

    with psycopg.connect(dsn) as db, db.cursor(name=f"floor_{uuid.uuid4().hex[:8]}") as cursor:
        cursor.execute(f"SELECT email FROM {table}")
        while rows := cursor.fetchmany(FETCH):
            for (value,) in rows:
                yield value


def run(
    url: str, values: Iterator[Any], client_id: str, client_secret: str, advertiser: str
) -> dict[str, Any]:
    """Do the whole floor export; return its figures."""
    session = requests.Session()
    token = session.post(
        f"{url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    ).json()["access_token"]
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    create = {
        "data": [
            {
                "type": "AudienceSegment",
                "attributes": {
                    "advertiserId": advertiser,
                    "name": f"floor-{uuid.uuid4().hex}",
                    "contactList": {},
                },
            }
        ]
    }
    response = session.post(f"{url}{API}/audience-segments/create", data=json.dumps(create))
    response.raise_for_status()
    segment = response.json()["data"][0]["id"]
    path = f"{url}{API}/audience-segments/{segment}/contact-list"
    requests_ = 2  # the token and the segment

    def send(batch: list[str]) -> None:
        body = {
            "data": {
                "type": "ContactlistAmendment",
                "attributes": {"operation": "add", "identifierType": "email", "identifiers": batch},
            }
        }
        session.patch(path, data=json.dumps(body, separators=(",", ":")).encode()).raise_for_status()

    counts = {"rows": 0}
    sent = 0
    for batch in hashed_batches(values, counts):
        send(batch)
        sent, requests_ = sent + len(batch), requests_ + 1
    return {"rows": counts["rows"], "hashed": sent, "sent": sent, "requests": requests_, "segment": segment}


def hashed_batches(values: Iterator[Any], counts: dict[str, int]) -> Iterator[list[str]]:
    """The values normalised and hashed to hex, in batches of ``BATCH``; ``counts["rows"]``: rows read."""
    batch: list[str] = []
    sha256 = hashlib.sha256
    rows = 0
    for rows, value in enumerate(values, 1):  # noqa: B007 - its last value is the count
        if value is None:
            continue
        batch.append(sha256(value.strip().lower().encode()).hexdigest())
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
    counts["rows"] = rows


def read_only(values: Iterator[Any]) -> dict[str, Any]:
    """Read, normalise and hash the values, sending nothing; return the figures."""
    counts = {"rows": 0}
    hashed = sum(map(len, hashed_batches(values, counts)))
    return {"rows": counts["rows"], "hashed": hashed, "sent": 0, "requests": 0}


def main() -> None:
    """Run the floor once and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the emulator's base URL")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sqlite", help="SQLite file")
    source.add_argument("--postgres", help="PostgreSQL DSN")
    parser.add_argument("--table", required=True)
    parser.add_argument("--client-id", default="sandbox-client-id")
    parser.add_argument("--client-secret", default="sandbox-client-secret")
    parser.add_argument("--advertiser-id", default="12345")
    parser.add_argument("--read-only", action="store_true", help="read, normalise and hash; send nothing")
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    values = read_sqlite(args.sqlite, args.table) if args.sqlite else read_postgres(args.postgres, args.table)
    if args.read_only:
        figures = read_only(values)
    else:
        figures = run(args.url, values, args.client_id, args.client_secret, args.advertiser_id)
    figures["seconds"], figures["cpu"] = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
