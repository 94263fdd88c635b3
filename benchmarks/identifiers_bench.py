"""Worker CPU of preparing identifiers, per value and per identifier type, as an export reads them.

Run: ``.venv/bin/python benchmarks/identifiers_bench.py [--values N] [--repeat K]``. For each type it
prepares chunks of 10,000 synthetic values, written as CRM columns hold them (e-mails in mixed case
and padded, a few invalid; phone numbers national and international, with separators, 00 and (0)
prefixes), into the type's member set (normalise, validate, hash), and prints the best of ``K``
runs as microseconds per value. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from typing import TYPE_CHECKING

from airflow_provider_criteo.identifiers.registry import identifier_type

if TYPE_CHECKING:
    from collections.abc import Callable

CHUNK = 10_000


def emails(count: int, rng: random.Random) -> list[object]:
    """Addresses as CRM columns hold them: mixed case, padding, about 1% invalid."""
    values: list[object] = []
    for i in range(count):
        address = f"customer.{i}@example{i % 97}.com"
        roll = rng.random()
        values.append(
            address.upper()
            if roll < 0.15
            else f" {address}\t"
            if roll < 0.17
            else None
            if roll < 0.18
            else address
        )
    return values


PHONE_FORMS: tuple[Callable[[str], str], ...] = (
    lambda n: f"0{n[0]} {n[1:3]} {n[3:5]} {n[5:7]} {n[7:]}",  # national, spaced
    lambda n: f"+33 {n[0]} {n[1:3]} {n[3:5]} {n[5:7]} {n[7:]}",  # international
    lambda n: f"+33{n}",  # E.164
    lambda n: f"0033 {n}",  # 00 prefix
    lambda n: f"+33 (0){n}",  # (0) trunk prefix
    lambda n: f"0{n[0]}.{n[1:3]}.{n[3:5]}.{n[5:7]}.{n[7:]}",  # dotted
)


def phones(count: int, rng: random.Random) -> list[object]:
    """French mobile numbers (a fiction range), each in six notations people use; about 1% cut short."""
    values: list[object] = []
    for i in range(count):
        national = f"6{39980000 + i // len(PHONE_FORMS) % 10_000:08d}"  # each number in every notation
        text = PHONE_FORMS[i % len(PHONE_FORMS)](national)
        values.append(text[:6] if rng.random() < 0.01 else text)
    return values


def mobile_ad_ids(count: int, rng: random.Random) -> list[object]:
    """Mobile ad ids, half of them upper-case."""
    return [
        str(uuid.UUID(int=rng.getrandbits(128))).upper() if i % 2 else str(uuid.UUID(int=i + 1))
        for i in range(count)
    ]


GENERATORS = {"email": emails, "phoneNumber": phones, "madid": mobile_ad_ids}


def prepare_all(name: str, values: list[object]) -> dict[str, int]:
    """Prepare the values chunk by chunk into the type's member sets, as reading.read_identifiers does."""
    kind = identifier_type(name, phone_region="FR")
    members = [(form, form.new_members()) for form in kind.forms]
    valid = 0
    for start in range(0, len(values), CHUNK):
        prepared = kind.prepare(values[start : start + CHUNK])
        members[0][1].add_many(prepared.valid)
        valid += len(prepared.valid)
    for _, group in members:
        group.freeze()
    return {"values": len(values), "valid": valid, "distinct": sum(len(group) for _, group in members)}


def measure(name: str, count: int, repeat: int) -> dict[str, object]:
    """The best of ``repeat`` runs of preparing ``count`` values of one type."""
    values = GENERATORS[name](count, random.Random(7))
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        counts = prepare_all(name, values)
        best = min(best, time.process_time() - started)
    return {"type": name, **counts, "cpu_s": round(best, 3), "us_per_value": round(best / count * 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=200_000, help="values per type")
    parser.add_argument("--repeat", type=int, default=3, help="runs per type (the best is reported)")
    parser.add_argument("--types", default=",".join(GENERATORS), help="comma-separated identifier types")
    args = parser.parse_args()
    for name in args.types.split(","):
        print(json.dumps(measure(name, args.values, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
