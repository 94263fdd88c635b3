"""Exports that send several identifier types (e-mail, phone, mobile ad id, IdentityLink) to one audience."""

from __future__ import annotations

import hashlib
import json
import uuid

import numpy as np
import pytest

from airflow_provider_criteo.exceptions import CriteoStateError, LargeRemovalError
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.identifiers.legacy_phone import as_sent_before
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.sync.protocol import peek
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore
from tests.helpers import commit_as_another_run, counted, segment_export, sha

COLUMNS = {"email": "email", "phoneNumber": "phone", "madid": "device_id", "identityLink": "ramp_id"}
ANN_DEVICE = "6d92078a-8246-4ba4-ae5b-76104861e7dc"
NEW_DEVICE = "0f8e2c5a-1b3d-4e6f-8a9b-0c1d2e3f4a5b"
DAVE_MD5 = hashlib.md5(b"dave@example.com").hexdigest()
ROWS = [
    ("vip", "Ann@Example.com", "+33 6 12 34 56 78", ANN_DEVICE.upper(), "XYann"),
    ("vip", "bob@example.org", "06 98 76 54 32", None, None),
    # Given already hashed (SHA-256 hex, any case; a phone's of its E.164 digits): sent as they are.
    ("vip", sha("carol@example.net").upper(), sha("442079460958"), str(uuid.UUID(int=0)), "XYcarol"),
    ("vip", " ann@example.com", "+33612345678", ANN_DEVICE, "XYann"),
    # An e-mail given as an MD5 digest is sent as it is, in requests of its own.
    ("vip", DAVE_MD5.upper(), "not a phone", "not-a-uuid", "XY with space"),
    ("vip", hashlib.sha1(b"frank@example.com").hexdigest(), None, None, None),  # SHA-1: refused
    ("churn", "erin@example.com", "+33 7 00 00 00 00", NEW_DEVICE, "XYerin"),
]
EXPECTED = {
    "email": {sha("ann@example.com"), sha("bob@example.org"), sha("carol@example.net"), DAVE_MD5},
    # Criteo's hashed phone number: the SHA-256 of the E.164 number's digits, without its +.
    "phoneNumber": {sha("33612345678"), sha("33698765432"), sha("442079460958")},
    "madid": {ANN_DEVICE},
    "identityLink": {"XYann", "XYcarol"},
}


def load_profiles(warehouse):
    """The warehouse's segment table with a column per identifier type, holding ROWS."""
    warehouse.add_columns("phone", "device_id", "ramp_id")
    warehouse.insert(("segment", "email", "phone", "device_id", "ramp_id"), ROWS)
    return warehouse


@pytest.fixture
def profiles(warehouse):
    return load_profiles(warehouse)


@pytest.fixture
def sqlite_profiles(sqlite_warehouse):
    return load_profiles(sqlite_warehouse)


def export(warehouse, **overrides):
    sql = warehouse.segment_sql.replace("SELECT email", "SELECT email, phone, device_id, ramp_id")
    arguments = {"sql": sql, "identifier_columns": COLUMNS, "phone_country_code": "33"}
    return segment_export(warehouse, **(arguments | overrides))


def members(sandbox, audience_id: str, kinds=COLUMNS) -> dict[str, set[str]]:
    return {kind: sandbox.members(audience_id, kind) for kind in kinds}


def test_one_export_sends_every_identifier_type_into_one_audience(profiles, criteo_conn, criteo_sandbox):
    summary = export(profiles).execute(context={})
    assert members(criteo_sandbox, summary["audience_id"]) == EXPECTED
    by_type = summary["identifier_types"]
    counts = ("valid", "invalid", "prehashed", "duplicates", "added", "removed")
    assert {kind: tuple(by_type[kind][c] for c in counts) for kind in COLUMNS} == {
        "email": (5, 1, 2, 1, 4, 0),
        "phoneNumber": (4, 2, 1, 1, 3, 0),
        "madid": (2, 4, 0, 1, 1, 0),
        "identityLink": (3, 3, 0, 1, 2, 0),
    }
    # E-mails by form: hashed here with SHA-256 (or given so), and given as MD5 digests.
    email_forms = by_type["email"]["forms"]
    assert {form: (c["members"], c["added"], c["requests"]) for form, c in email_forms.items()} == {
        "sha256": (3, 3, 1),
        "md5": (1, 1, 1),
    }
    assert by_type["email"]["rejected_by_reason"] == {"unsupported_hash": 1}
    assert by_type["madid"]["rejected_by_reason"] == {"null": 2, "zero_ad_id": 1, "invalid_format": 1}
    assert by_type["identityLink"]["rejected_by_reason"] == {"null": 2, "whitespace": 1}
    assert (summary["rows_read"], summary["valid"], summary["invalid"], summary["added"]) == (6, 14, 10, 10)
    assert summary["rejected_by_reason"]["null"] == 5
    assert summary["rows_without_identifier"] == 1  # Frank's row: not one of its values is usable
    assert summary["audience_size"] == counted(criteo_sandbox, 10)
    assert summary["requests"] == 5  # one amendment per list: e-mails in two forms, then each type
    assert summary["snapshot_version"] is None  # one per list, in identifier_types
    assert {form["snapshot_version"] for c in by_type.values() for form in c["forms"].values()} == {1}
    text = json.dumps(summary)
    assert not any(secret in text for secret in ("ann@", "bob@", "612345678", "698765432", "XYann"))


def test_mirror_keeps_each_type_in_step_on_its_own(profiles, criteo_conn, criteo_sandbox, tmp_path):
    first = export(profiles).execute(context={})
    profiles.execute(f"UPDATE {profiles.table} SET phone = NULL WHERE email = 'bob@example.org'")
    profiles.execute(f"UPDATE {profiles.table} SET device_id = '{NEW_DEVICE}' WHERE ramp_id = 'XYann'")
    # Ann's one mobile ad id changes: 1 of 1 leaves, over the removal guard's default share.
    second = export(profiles, allow_large_removal=True).execute(context={})
    expected = EXPECTED | {
        "phoneNumber": EXPECTED["phoneNumber"] - {sha("33698765432")},
        "madid": {NEW_DEVICE},
    }
    assert members(criteo_sandbox, first["audience_id"]) == expected
    by_type = second["identifier_types"]
    assert {kind: (c["added"], c["removed"], c["unchanged"]) for kind, c in by_type.items()} == {
        "email": (0, 0, 4),
        "phoneNumber": (0, 1, 2),
        "madid": (1, 1, 0),
        "identityLink": (0, 0, 2),
    }
    assert second["requests"] == 3  # a remove of phone numbers, an add and a remove of mobile ad ids
    folder = next(SnapshotStore.from_config().root.glob(f"*/audience={first['audience_id']}"))
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
        "email-md5",
        "email-sha256",
        "identityLink-none",
        "madid-none",
        "phoneNumber-sha256",
    ]


def wipes(sandbox) -> int:
    return sum(r.method == "DELETE" and r.path.endswith("/contact-list") for r in sandbox.requests)


def test_a_type_added_to_a_mirrored_audience_makes_one_wipe_and_every_type_comes_back(
    sqlite_profiles, criteo_conn, criteo_sandbox
):
    both = {"email": "email", "madid": "device_id"}
    first = export(sqlite_profiles, identifier_columns={"email": "email"}).execute(context={})
    second = export(sqlite_profiles, identifier_columns=both).execute(context={})
    # The audience's mobile ad ids were never recorded: on_missing_state="replace" wipes it once,
    # and then every type is added again, e-mails included.
    assert second["audience_wiped"]
    assert wipes(criteo_sandbox) == 1
    assert second["identifier_types"]["email"]["added"] == 4
    assert members(criteo_sandbox, first["audience_id"], both) == {k: EXPECTED[k] for k in both}


def test_a_type_added_with_on_missing_state_add_only_needs_no_wipe(
    sqlite_profiles, criteo_conn, criteo_sandbox
):
    first = export(sqlite_profiles, identifier_columns={"email": "email"}).execute(context={})
    both = {"email": "email", "madid": "device_id"}
    second = export(sqlite_profiles, identifier_columns=both, on_missing_state="add_only").execute(context={})
    assert wipes(criteo_sandbox) == 0
    assert not second["audience_wiped"]
    assert second["identifier_types"]["email"]["added"] == 0
    assert members(criteo_sandbox, first["audience_id"], both) == {k: EXPECTED[k] for k in both}
    # The new type is tracked now: the next run has nothing to send.
    third = export(sqlite_profiles, identifier_columns=both).execute(context={})
    assert (third["added"], third["removed"], wipes(criteo_sandbox)) == (0, 0, 0)


def test_replace_wipes_once_for_every_type(sqlite_profiles, criteo_conn, criteo_sandbox):
    first = export(sqlite_profiles).execute(context={})
    export(sqlite_profiles, sync_mode="replace").execute(context={})
    assert wipes(criteo_sandbox) == 1
    assert members(criteo_sandbox, first["audience_id"]) == EXPECTED


def test_a_run_that_dies_between_types_after_a_wipe_loses_nobody(
    sqlite_profiles, criteo_conn, criteo_sandbox, monkeypatch
):
    first = export(sqlite_profiles).execute(context={})
    amend = CriteoHook.amend_contact_list

    def dies_on_mobile_ad_ids(self, segment_id, operation, identifiers, **kwargs):
        if kwargs.get("identifier_type") == "madid":
            raise RuntimeError("worker killed")
        return amend(self, segment_id, operation, identifiers, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(CriteoHook, "amend_contact_list", dies_on_mobile_ad_ids)
        with pytest.raises(RuntimeError, match="worker killed"):
            export(sqlite_profiles, sync_mode="replace").execute(context={})
    assert criteo_sandbox.members(first["audience_id"], "madid") == set()  # wiped, never added back
    retry = export(sqlite_profiles).execute(context={})
    assert members(criteo_sandbox, first["audience_id"]) == EXPECTED
    assert retry["identifier_types"]["madid"]["added"] == 1


def test_national_phone_numbers_need_a_country_code(sqlite_profiles, criteo_conn, criteo_sandbox):
    summary = export(sqlite_profiles, phone_country_code=None).execute(context={})
    assert summary["identifier_types"]["phoneNumber"]["rejected_by_reason"] == {
        "no_country_code": 1,
        "invalid_format": 1,
        "null": 1,
    }
    assert criteo_sandbox.members(summary["audience_id"], "phoneNumber") == {
        sha("33612345678"),
        sha("442079460958"),
    }


def test_phone_region_says_where_national_numbers_are_from(sqlite_profiles, criteo_conn, criteo_sandbox):
    summary = export(sqlite_profiles, phone_country_code=None, phone_region="FR").execute(context={})
    assert criteo_sandbox.members(summary["audience_id"], "phoneNumber") == EXPECTED["phoneNumber"]


def test_plain_e_mails_refuse_digests(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load([("vip", "ann@example.com"), ("vip", sha("bob@example.org"))])
    summary = segment_export(sqlite_warehouse, sync_mode="replace", hash_emails=False).execute(context={})
    assert criteo_sandbox.members(summary["audience_id"]) == {"ann@example.com"}
    assert summary["rejected_by_reason"] == {"unsupported_hash": 1}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"identifier_columns": {"email": "email", "gum": "gum_id"}}, "unknown: \\['gum'\\]"),
        ({"identifier_columns": {}}, "names none"),
        ({"identifier_columns": {"madid": "device_id"}, "email_column": "mail"}, "not both"),
        ({"identifier_columns": {"phoneNumber": "phone"}, "phone_country_code": "+33"}, "calling code"),
        ({"identifier_columns": {"phoneNumber": "phone"}, "phone_region": "France"}, "ISO 3166"),
        (
            {
                "identifier_columns": {"phoneNumber": "phone"},
                "phone_region": "FR",
                "phone_country_code": "33",
            },
            "not both",
        ),
        ({"identifier_columns": {"email": "email"}, "hash_emails": False}, "needs hash_emails=True"),
    ],
)
def test_identifier_settings_are_checked_when_the_dag_is_parsed(sqlite_warehouse, arguments, message):
    with pytest.raises(ValueError, match=message):
        segment_export(sqlite_warehouse, **arguments)


# --- upgrading: phone snapshots written before Criteo's hashed form --------------------------------

# As a CRM writes them: national numbers, and notations version 0.1's rules wrote in odd forms.
PHONES = [
    *(f"06 12 34 56 {i:02d}" for i in range(3)),
    *(f"+33 (0)6 12 34 56 {i:02d}" for i in range(3, 7)),  # 0.1 hashed "+330612345603"
    *(f"33 6 12 34 56 {i:02d}" for i in range(7, 10)),  # 0.1 hashed "+3333612345607"
]


def hpn(written: str) -> str:
    """Criteo's hashed phone number of one of PHONES: the SHA-256 of its E.164 digits."""
    return sha("3361234560" + written[-1])


def as_before(written: str) -> str:
    """What version 0.1 sent for it: the SHA-256 of what its rules made of the number, with +."""
    return sha(as_sent_before(written, "33"))


def phone_profiles(warehouse, phones: list[str]) -> None:
    warehouse.execute(f"DELETE FROM {warehouse.table}")
    warehouse.insert(("segment", "email", "phone"), [("vip", f"p{p[-1]}@example.com", p) for p in phones])


def exported_before_the_upgrade(warehouse, sandbox) -> str:
    """An audience as an earlier version left it: e-mails, and phone digests of the old form on record."""
    warehouse.add_columns("phone")
    phone_profiles(warehouse, PHONES)
    audience = segment_export(warehouse, min_audience_size=1).execute(context={})["audience_id"]
    old = sorted(bytes.fromhex(as_before(p)) for p in PHONES)
    CriteoHook().add_identifiers(audience, [d.hex() for d in old], identifier_type="phoneNumber")
    key = SnapshotKey(DEFAULT_ADVERTISER_ID, audience, "phoneNumber", "sha256")
    commit_as_another_run(SnapshotStore.from_config(), key, np.array(old, dtype="S32"))  # no encoding
    return audience


def export_with_phones(warehouse, **overrides):
    sql = warehouse.segment_sql.replace("SELECT email", "SELECT email, phone")
    columns = {"email": "email", "phoneNumber": "phone"}
    return segment_export(warehouse, sql=sql, identifier_columns=columns, phone_region="FR", **overrides)


def test_phone_snapshots_of_the_old_form_are_migrated_by_one_ordinary_run(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    audience = exported_before_the_upgrade(sqlite_warehouse, criteo_sandbox)
    phone_profiles(sqlite_warehouse, PHONES[1:])  # and one person left meanwhile
    summary = export_with_phones(sqlite_warehouse, min_audience_size=1).execute(context={})

    assert criteo_sandbox.members(audience, "phoneNumber") == {hpn(p) for p in PHONES[1:]}
    assert criteo_sandbox.members(audience, "email") == {sha(f"p{p[-1]}@example.com") for p in PHONES[1:]}
    by_type = summary["identifier_types"]
    assert (by_type["phoneNumber"]["added"], by_type["phoneNumber"]["removed"]) == (9, 10)
    assert (by_type["email"]["added"], by_type["email"]["removed"]) == (0, 1)  # the other type: untouched
    assert not summary["audience_wiped"]
    snapshot = peek(
        SnapshotStore.from_config(), SnapshotKey(DEFAULT_ADVERTISER_ID, audience, "phoneNumber", "sha256")
    ).snapshot
    assert snapshot.encoding == "sha256(E.164 digits)"
    again = export_with_phones(sqlite_warehouse, min_audience_size=1).execute(context={})
    assert (again["added"], again["removed"]) == (0, 0)


def test_during_the_migration_the_removal_guard_still_counts_people_who_left(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    audience = exported_before_the_upgrade(sqlite_warehouse, criteo_sandbox)
    phone_profiles(sqlite_warehouse, PHONES[:3])  # 7 of 10 left: a broken upstream table, say
    with pytest.raises(LargeRemovalError, match="would remove 7 of 10"):
        export_with_phones(sqlite_warehouse, min_audience_size=1).execute(context={})
    assert criteo_sandbox.members(audience, "phoneNumber") == {as_before(p) for p in PHONES}


def test_add_only_keeps_the_old_form_on_record_for_the_next_mirror_run(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    audience = exported_before_the_upgrade(sqlite_warehouse, criteo_sandbox)
    export_with_phones(sqlite_warehouse, sync_mode="add_only", min_audience_size=1).execute(context={})
    assert criteo_sandbox.members(audience, "phoneNumber") == {*map(hpn, PHONES), *map(as_before, PHONES)}
    summary = export_with_phones(sqlite_warehouse, min_audience_size=1).execute(context={})
    assert criteo_sandbox.members(audience, "phoneNumber") == {hpn(p) for p in PHONES}
    assert summary["identifier_types"]["phoneNumber"]["removed"] == 10


def test_a_snapshot_of_an_encoding_this_version_does_not_know_is_refused(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    audience = exported_before_the_upgrade(sqlite_warehouse, criteo_sandbox)
    key = SnapshotKey(DEFAULT_ADVERTISER_ID, audience, "phoneNumber", "sha256")
    store = SnapshotStore.from_config()
    commit_as_another_run(store, key, peek(store, key).snapshot.digests, encoding="sha256(E.164 v3)")
    criteo_sandbox.clear_requests()
    with pytest.raises(CriteoStateError, match="written by a newer version"):
        export_with_phones(sqlite_warehouse, min_audience_size=1).execute(context={})
    assert not [r for r in criteo_sandbox.requests if r.path.endswith("/contact-list")]


def test_md5_e_mails_an_add_only_run_sent_are_removed_by_a_later_mirror_run(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    sqlite_warehouse.load([("vip", "ann@example.com"), ("vip", "bob@example.com")])
    audience = segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})["audience_id"]
    sqlite_warehouse.load([("vip", DAVE_MD5)])  # the first MD5 e-mail, in an add_only run
    segment_export(sqlite_warehouse, sync_mode="add_only", min_audience_size=1).execute(context={})
    assert DAVE_MD5 in criteo_sandbox.members(audience, "email")
    sqlite_warehouse.execute(f"DELETE FROM {sqlite_warehouse.table} WHERE email = '{DAVE_MD5}'")
    summary = segment_export(sqlite_warehouse, min_audience_size=1, allow_large_removal=True).execute(
        context={}
    )
    assert criteo_sandbox.members(audience, "email") == {sha("ann@example.com"), sha("bob@example.com")}
    assert summary["identifier_types"]["email"]["forms"]["md5"]["removed"] == 1


def test_an_address_given_in_another_form_this_time_did_not_leave(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    people = [f"p{i}@example.com" for i in range(4)]
    sqlite_warehouse.load(
        [("vip", a) for a in people[:3]] + [("vip", hashlib.md5(people[3].encode()).hexdigest())]
    )
    audience = segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})["audience_id"]
    sqlite_warehouse.execute(f"DELETE FROM {sqlite_warehouse.table}")
    sqlite_warehouse.load([("vip", a) for a in people])  # the fourth now given as her address
    segment_export(sqlite_warehouse, min_audience_size=1).execute(
        context={}
    )  # the md5 list empties: no refusal
    assert criteo_sandbox.members(audience, "email") == {sha(a) for a in people}
    sqlite_warehouse.execute(f"UPDATE {sqlite_warehouse.table} SET email = NULL")  # a broken column
    with pytest.raises(LargeRemovalError, match="came back empty"):
        segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})


def test_md5_members_an_older_version_wiped_are_added_again(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load([("vip", "ann@example.com"), ("vip", DAVE_MD5)])
    audience = segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})["audience_id"]
    # A worker still on 0.1 runs replace: it wipes, re-adds the e-mails it knows, and commits their
    # snapshot without an encoding; it knows nothing of the email-md5 list and its snapshot.
    hook, store = CriteoHook(), SnapshotStore.from_config()
    hook.wipe_contact_list(audience)
    hook.add_identifiers(audience, [sha("ann@example.com")])
    key = SnapshotKey(DEFAULT_ADVERTISER_ID, audience, "email", "sha256")
    commit_as_another_run(store, key, peek(store, key).snapshot.digests)
    assert DAVE_MD5 not in criteo_sandbox.members(audience, "email")
    summary = segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})
    assert criteo_sandbox.members(audience, "email") == {sha("ann@example.com"), DAVE_MD5}
    assert summary["identifier_types"]["email"]["forms"]["md5"]["added"] == 1
    again = segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})
    assert (again["added"], again["removed"]) == (0, 0)  # the snapshot is trusted again
