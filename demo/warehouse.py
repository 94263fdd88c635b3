"""A synthetic demo warehouse in SQLite: CRM contacts and customer activity, with realistic mess.

``crm_contacts`` holds one or more contact records per customer (the latest one is current) whose
addresses are as messy as real CRM data: mixed case, surrounding blanks, decomposed accents, NULLs,
blanks, invalid values and households sharing one address; and phone numbers as people write them
(French national or international format, sometimes missing or incomplete). ``customer_activity``
holds one row per customer, with the mobile ad id of the customer's app, if any.
``customer_profile_refresh`` turns both into profiles and segment membership.
Everything is generated from a seed, so a warehouse is reproducible; the domains are reserved
example domains and the phone numbers are in ranges reserved for fiction, so nothing belongs to anyone.
"""

from __future__ import annotations

import os
import random
import sqlite3
import unicodedata
import uuid
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_CUSTOMERS = 40_000
DEFAULT_SEED = 2026

FIRST_NAMES = (
    "alice", "bruno", "chloé", "david", "emma", "farid", "gaëlle", "hugo", "inès", "jules",
    "karim", "léa", "marc", "nora", "oscar", "paula", "quentin", "rosa", "samir", "zoé",
)  # fmt: skip
LAST_NAMES = (
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy",
    "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux",
)  # fmt: skip
DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "shop.example",
    "post.example.org",
)

# The ranges ARCEP reserves for fiction (01 99 00 xx xx ... 06 39 98 xx xx): no number belongs to anyone.
FICTION_PHONE_PREFIXES = ("19900", "26191", "35301", "46571", "53649", "63998")

SCHEMA = (
    "CREATE TABLE crm_contacts (contact_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, "
    "email TEXT, phone TEXT, updated_at TEXT NOT NULL)",
    "CREATE INDEX crm_contacts_customer ON crm_contacts (customer_id)",
    "CREATE TABLE customer_activity (customer_id INTEGER PRIMARY KEY, lifetime_value REAL NOT NULL, "
    "orders INTEGER NOT NULL, days_since_last_order INTEGER NOT NULL, newsletter_opt_in INTEGER NOT NULL, "
    "mobile_ad_id TEXT)",
    "CREATE TABLE erasure_requests (email TEXT, phone TEXT, mobile_ad_id TEXT)",
)


@dataclass(frozen=True)
class WarehouseSize:
    """How many rows a generated warehouse holds."""

    customers: int
    contacts: int


class _Generator:
    """Draws customers, their addresses and their activity from one seeded random source."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def address(self, customer_id: int) -> str:
        """A clean, unique address for a customer."""
        pick = self.random.choice
        first, last = pick(FIRST_NAMES), pick(LAST_NAMES)
        local = pick(
            (f"{first}.{last}{customer_id}", f"{first[0]}{last}{customer_id}", f"{last}.{customer_id}")
        )
        return f"{local}@{pick(DOMAINS)}"

    def messy(self, address: str, shared: str | None) -> str | None:
        """The address as a CRM holds it: usually clean, sometimes mistyped, missing or someone else's."""
        roll = self.random.random()
        if roll < 0.04 and shared is not None:
            return shared.upper() if self.random.random() < 0.5 else shared  # a household shares it
        if roll < 0.10:
            return self._mixed_case(address)
        if roll < 0.14:
            return self.random.choice((" ", "  ", "\t")) + address + self.random.choice(("", " ", "\n"))
        if roll < 0.16:
            return unicodedata.normalize("NFD", address)  # accents typed as combining characters
        if roll < 0.19:
            return None
        if roll < 0.21:
            return self.random.choice(("", "   "))
        if roll < 0.24:
            return self._invalid(address)
        return address

    def _mixed_case(self, address: str) -> str:
        local, domain = address.split("@")
        return f"{local.title()}@{domain.upper() if self.random.random() < 0.5 else domain}"

    def _invalid(self, address: str) -> str:
        local, domain = address.split("@")
        return self.random.choice(
            (local, f"{local}@@{domain}", f"{local[:3]} {local[3:]}@{domain}", f"{local}@localhost", "n/a")
        )

    def phone(self) -> str | None:
        """A French number as a CRM holds it: national or international, spaced or not; or none."""
        roll = self.random.random()
        if roll < 0.35:
            return None
        digits = f"{self.random.choice(FICTION_PHONE_PREFIXES)}{self.random.randrange(10**4):04d}"
        pairs = " ".join(digits[i : i + 2] for i in range(1, 9, 2))
        if roll < 0.60:
            return f"0{digits[0]} {pairs}"
        if roll < 0.85:
            return f"+33 {digits[0]} {pairs}"
        if roll < 0.97:
            return f"0{digits}"
        return f"0{digits[:5]}"  # cut short

    def mobile_ad_id(self) -> str | None:
        """The advertising id of the customer's phone, when they use the app (zero: tracking limited)."""
        roll = self.random.random()
        if roll < 0.7:
            return None
        if roll < 0.72:
            return "00000000-0000-0000-0000-000000000000"
        ad_id = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        return ad_id.upper() if roll < 0.85 else ad_id  # iOS writes IDFAs in upper case

    def activity(self, customer_id: int) -> tuple[int, float, int, int, int, str | None]:
        """Lifetime value, orders, days since the last order, newsletter opt-in and mobile ad id."""
        orders = 1 + int(self.random.expovariate(1 / 4))
        lifetime_value = round(orders * self.random.uniform(20, 220), 2)
        days_since_last_order = int(self.random.expovariate(1 / 90))
        opt_in = int(self.random.random() < 0.4)
        return customer_id, lifetime_value, orders, days_since_last_order, opt_in, self.mobile_ad_id()


def create_warehouse(
    path: Path, customers: int = DEFAULT_CUSTOMERS, seed: int = DEFAULT_SEED
) -> WarehouseSize:
    """Write a new demo warehouse to ``path`` (replacing any), atomically; return its size."""
    generator = _Generator(seed)
    contacts: list[tuple[int, int, str | None, str | None, str]] = []
    activity = []
    previous: str | None = None
    for customer_id in range(1, customers + 1):
        address = generator.address(customer_id)
        if generator.random.random() < 0.15:  # an older record, with the address the customer left
            older = (generator.address(customer_id), generator.phone())
            contacts.append((len(contacts) + 1, customer_id, *older, "2024-01-01"))
        current = (generator.messy(address, previous), generator.phone())
        contacts.append((len(contacts) + 1, customer_id, *current, "2025-06-01"))
        activity.append(generator.activity(customer_id))
        previous = address
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    with closing(sqlite3.connect(temporary)) as db:
        for statement in SCHEMA:
            db.execute(statement)
        db.executemany("INSERT INTO crm_contacts VALUES (?, ?, ?, ?, ?)", contacts)
        db.executemany("INSERT INTO customer_activity VALUES (?, ?, ?, ?, ?, ?)", activity)
        db.commit()
    os.replace(temporary, path)
    return WarehouseSize(customers=customers, contacts=len(contacts))
