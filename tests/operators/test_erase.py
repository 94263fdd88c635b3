from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import closing

import pytest

from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    CriteoConfigurationError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.operators.erase import CriteoEraseOperator
from airflow_provider_criteo.operators.segment_export import SegmentExportOperator
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.sync.protocol import hold, peek
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore


def sha(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


PEOPLE = [f"person{i}@example.com" for i in range(6)]


@pytest.fixture
def exported(sqlite_warehouse, criteo_conn, criteo_sandbox):
    """Two managed audiences holding the people, and a colleague's audience holding one of them."""
    sqlite_warehouse.load([(s, a) for s in ("vip", "churn") for a in PEOPLE])
    for segment in ("vip", "churn"):
        SegmentExportOperator(
            task_id=f"export_{segment}",
            segment=segment,
            sql_conn_id=sqlite_warehouse.conn_id,
            sql=sqlite_warehouse.segment_sql,
            parameters={"segment": segment},
            min_audience_size=1,
        ).execute(context={})
    hook = CriteoHook(criteo_conn)
    colleague = hook.create_contact_list_segment("hand-built")
    hook.add_identifiers(colleague.id, [sha(PEOPLE[0])])
    sqlite_warehouse.execute("CREATE TABLE erasure_requests (email TEXT)")
    return {s["attributes"]["name"]: s["id"] for s in criteo_sandbox.segments()}


def erase(warehouse, *requests: str) -> dict:
    """File erasure requests and run the erasure."""
    warehouse.execute("INSERT INTO erasure_requests VALUES " + ", ".join(f"('{r}')" for r in requests))
    return CriteoEraseOperator(
        task_id="erase", sql_conn_id=warehouse.conn_id, table="erasure_requests", audit_table="erasure_audit"
    ).execute(context={})


def test_erasure_removes_people_from_every_managed_audience_and_snapshot(
    sqlite_warehouse, criteo_sandbox, exported
):
    summary = erase(sqlite_warehouse, f"  {PEOPLE[0].upper()} ", sha(PEOPLE[1]), "not-an-address")
    assert summary["identifiers"] == 2
    assert sorted(summary["audience_ids"]) == sorted([exported["vip"], exported["churn"]])
    assert summary["rejected_by_reason"] == {"invalid_format": 1}
    remaining = {sha(a) for a in PEOPLE[2:]}
    for name in ("vip", "churn"):
        assert criteo_sandbox.members(exported[name]) == remaining
        snapshot = peek(
            SnapshotStore.from_config(), SnapshotKey(DEFAULT_ADVERTISER_ID, exported[name])
        ).snapshot
        assert {
            snapshot.digests.tobytes()[i : i + 32].hex() for i in range(0, len(snapshot.digests) * 32, 32)
        } == remaining
    # A colleague's audience is not this provider's to change.
    assert criteo_sandbox.members(exported["hand-built"]) == {sha(PEOPLE[0])}


def test_the_audit_row_holds_digests_never_addresses(sqlite_warehouse, exported):
    erase(sqlite_warehouse, PEOPLE[0])
    with closing(sqlite_warehouse.connect()) as db:
        (row,) = db.execute(
            "SELECT advertiser_id, audiences, identifiers, digests, audience_ids FROM erasure_audit"
        )
    advertiser, audiences, identifiers, digests, audience_ids = row
    assert (advertiser, audiences, identifiers) == (DEFAULT_ADVERTISER_ID, 2, 1)
    assert json.loads(digests) == [sha(PEOPLE[0])]
    assert set(audience_ids.split(",")) == {exported["vip"], exported["churn"]}
    assert "@" not in repr(row)


def test_the_next_mirror_run_does_not_resend_erased_people(sqlite_warehouse, criteo_sandbox, exported):
    erase(sqlite_warehouse, PEOPLE[0])
    sqlite_warehouse.execute(
        "DELETE FROM segment_members WHERE email IN (SELECT email FROM erasure_requests)"
    )
    summary = SegmentExportOperator(
        task_id="export_vip",
        segment="vip",
        sql_conn_id=sqlite_warehouse.conn_id,
        sql=sqlite_warehouse.segment_sql,
        parameters={"segment": "vip"},
    ).execute(context={})
    assert (summary["added"], summary["removed"]) == (0, 0)
    assert criteo_sandbox.members(exported["vip"]) == {sha(a) for a in PEOPLE[1:]}


def test_erasure_forgets_every_identifier_type_of_a_person(sqlite_warehouse, criteo_conn, criteo_sandbox):
    devices = [str(uuid.UUID(int=i + 1)) for i in range(3)]
    phones = [f"+3361234567{i}" for i in range(3)]
    sqlite_warehouse.add_columns("phone", "device_id")
    rows = [("vip", f"p{i}@example.com", phones[i], devices[i]) for i in range(3)]
    sqlite_warehouse.insert(("segment", "email", "phone", "device_id"), rows)
    columns = {"email": "email", "phoneNumber": "phone", "madid": "device_id"}
    audience = SegmentExportOperator(
        task_id="export_vip",
        segment="vip",
        sql_conn_id=sqlite_warehouse.conn_id,
        table=sqlite_warehouse.table,
        identifier_columns=columns,
        min_audience_size=1,
    ).execute(context={})["audience_id"]
    sqlite_warehouse.execute("CREATE TABLE erasure_requests (email TEXT, phone TEXT, device_id TEXT)")
    request = f"('P0@example.com', '+33 6 12 34 56 70', '{devices[0]}')"  # as people write them
    sqlite_warehouse.execute(f"INSERT INTO erasure_requests VALUES {request}")

    summary = CriteoEraseOperator(
        task_id="erase",
        sql_conn_id=sqlite_warehouse.conn_id,
        table="erasure_requests",
        identifier_columns=columns,
        audit_table="erasure_audit",
    ).execute(context={})

    assert summary["identifier_types"] == {"email": 1, "phoneNumber": 1, "madid": 1}
    assert criteo_sandbox.members(audience, "email") == {sha("p1@example.com"), sha("p2@example.com")}
    assert criteo_sandbox.members(audience, "phoneNumber") == {sha(p[1:]) for p in phones[1:]}
    assert criteo_sandbox.members(audience, "madid") == set(devices[1:])
    store = SnapshotStore.from_config()
    madid_snapshot = peek(store, SnapshotKey(DEFAULT_ADVERTISER_ID, audience, "madid", "none")).snapshot
    assert madid_snapshot.digests.tobytes() == b"".join(uuid.UUID(d).bytes for d in devices[1:])
    with closing(sqlite_warehouse.connect()) as db:
        ((digests,),) = db.execute("SELECT digests FROM erasure_audit")
    assert sorted(json.loads(digests)) == sorted([sha("p0@example.com"), sha(phones[0][1:]), sha(devices[0])])
    assert devices[0] not in digests


def test_types_nobody_asked_to_erase_are_left_alone(sqlite_warehouse, criteo_sandbox, exported):
    """The requests name e-mails only: no amendment and no snapshot change for other types."""
    requests_before = len(criteo_sandbox.requests)
    CriteoEraseOperator(
        task_id="erase",
        sql_conn_id=sqlite_warehouse.conn_id,
        sql="SELECT email, NULL AS phone FROM erasure_requests",
        identifier_columns={"email": "email", "phoneNumber": "phone"},
        audit_table="erasure_audit",
    ).execute(context={})
    amendments = [r for r in criteo_sandbox.requests[requests_before:] if r.method == "PATCH"]
    assert amendments == []  # the erasure table is empty
    assert not list(SnapshotStore.from_config().root.rglob("phoneNumber-*"))


def test_a_read_only_audience_fails_the_erasure_after_every_other_is_erased(
    sqlite_warehouse, criteo_sandbox, exported
):
    criteo_sandbox.set_read_only(exported["churn"])
    with pytest.raises(
        CriteoConfigurationError, match=r"'churn' \(id \d+\): Criteo keeps the contact list read-only"
    ):
        erase(sqlite_warehouse, PEOPLE[0])
    assert sha(PEOPLE[0]) not in criteo_sandbox.members(exported["vip"])
    assert sha(PEOPLE[0]) in criteo_sandbox.members(exported["churn"])
    with closing(sqlite_warehouse.connect()) as db:
        ((audience_ids,),) = db.execute("SELECT audience_ids FROM erasure_audit")
    assert audience_ids == exported["vip"]  # the audit says where the person was erased, and only there


def test_phone_numbers_are_erased_in_the_form_earlier_versions_sent_too(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    sqlite_warehouse.add_columns("phone")
    sqlite_warehouse.insert(("segment", "email", "phone"), [("vip", "ann@example.com", "+33 6 12 34 56 78")])
    audience = CriteoHook().create_contact_list_segment(
        "vip", description="[managed by airflow-provider-criteo: d.t]"
    )
    old, new = sha("+33612345678"), sha("33612345678")
    CriteoHook().add_identifiers(audience.id, [old], identifier_type="phoneNumber")
    sqlite_warehouse.execute("CREATE TABLE erasure_requests (email TEXT, phone TEXT)")
    sqlite_warehouse.execute("INSERT INTO erasure_requests VALUES (NULL, '06 12 34 56 78')")
    CriteoEraseOperator(
        task_id="erase",
        sql_conn_id=sqlite_warehouse.conn_id,
        table="erasure_requests",
        identifier_columns={"email": "email", "phoneNumber": "phone"},
        phone_region="FR",
        audit_table="erasure_audit",
    ).execute(context={})
    removed = [
        r.body["data"]["attributes"]["identifiers"]
        for r in criteo_sandbox.requests
        if r.method == "PATCH" and r.path.endswith("/contact-list")
    ]
    assert sorted(removed[-1]) == sorted([old, new])
    assert criteo_sandbox.members(audience.id, "phoneNumber") == set()
    with closing(sqlite_warehouse.connect()) as db:
        ((digests,),) = db.execute("SELECT digests FROM erasure_audit")
    assert json.loads(digests) == [new]


def test_a_read_only_list_criteo_did_not_flag_is_audited_like_a_flagged_one(
    sqlite_warehouse, criteo_sandbox, exported
):
    criteo_sandbox.set_read_only(exported["churn"])
    # The search answers without contactList.isReadOnly, as the schema allows: only the 403 tells.
    found = [
        {
            "id": exported[name],
            "attributes": {"name": name, "description": "[managed by airflow-provider-criteo: d.t]"},
        }
        for name in ("vip", "churn")
    ]
    criteo_sandbox.inject_fault(path="search", status=200, body=json.dumps({"data": found}))
    with pytest.raises(CriteoConfigurationError, match="'churn'"):
        erase(sqlite_warehouse, PEOPLE[0])
    with closing(sqlite_warehouse.connect()) as db:
        ((audience_ids,),) = db.execute("SELECT audience_ids FROM erasure_audit")
    assert audience_ids == exported["vip"]
    assert sha(PEOPLE[0]) not in criteo_sandbox.members(exported["vip"])


def test_erasing_an_address_erases_its_md5_form_where_exports_sent_it(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    md5 = hashlib.md5(b"dan@example.com").hexdigest()
    sqlite_warehouse.load([("vip", md5), ("vip", "eve@example.com")])
    audience = SegmentExportOperator(
        task_id="export",
        segment="vip",
        sql_conn_id=sqlite_warehouse.conn_id,
        sql=sqlite_warehouse.segment_sql,
        parameters={"segment": "vip"},
        min_audience_size=1,
    ).execute(context={})["audience_id"]
    sqlite_warehouse.execute("CREATE TABLE erasure_requests (email TEXT)")
    summary = erase(sqlite_warehouse, "Dan@Example.com")
    assert criteo_sandbox.members(audience, "email") == {sha("eve@example.com")}
    store = SnapshotStore.from_config()
    md5_snapshot = peek(store, SnapshotKey(DEFAULT_ADVERTISER_ID, audience, "email", "md5")).snapshot
    assert md5_snapshot.digests.size == 0
    assert summary["identifier_types"] == {"email": 1}  # one person asked for, one identifier audited


def test_an_audience_whose_description_criteo_leaves_out_is_found_by_its_snapshots(
    sqlite_warehouse, criteo_sandbox, exported
):
    criteo_sandbox.configure(schema_minimal=True)
    for segment in criteo_sandbox.state.segment_store.values():
        segment.description = None  # as if Criteo sent none
    summary = erase(sqlite_warehouse, PEOPLE[0])
    assert sorted(summary["audience_ids"]) == sorted([exported["vip"], exported["churn"]])
    assert sha(PEOPLE[0]) not in criteo_sandbox.members(exported["vip"])
    assert sha(PEOPLE[0]) in criteo_sandbox.members(exported["hand-built"])  # no tag, no snapshot: not ours


def test_damaged_state_does_not_keep_people_in_an_audience(sqlite_warehouse, criteo_sandbox, exported):
    """The erasure removes them at Criteo and audits it, then fails naming the audience to repair."""
    store = SnapshotStore.from_config()
    key = SnapshotKey(DEFAULT_ADVERTISER_ID, exported["vip"])
    snapshot = store.folder(key) / store.version_name(peek(store, key).snapshot.version)
    snapshot.write_bytes(snapshot.read_bytes()[:-1])
    with pytest.raises(SnapshotCorruptError, match=rf"removed and audited, .*'vip' \(id {exported['vip']}\)"):
        erase(sqlite_warehouse, PEOPLE[0])
    assert sha(PEOPLE[0]) not in criteo_sandbox.members(exported["vip"])
    assert sha(PEOPLE[0]) not in criteo_sandbox.members(exported["churn"])
    with closing(sqlite_warehouse.connect()) as db:
        ((audiences, digests),) = db.execute("SELECT audiences, digests FROM erasure_audit")
    assert (audiences, json.loads(digests)) == (2, [sha(PEOPLE[0])])


def test_an_audience_another_run_holds_does_not_stop_the_others_or_the_audit(
    sqlite_warehouse, criteo_sandbox, exported
):
    store = SnapshotStore.from_config()
    held = SnapshotKey(DEFAULT_ADVERTISER_ID, exported["churn"])
    busy = rf"another run held: .*'churn' \(id {exported['churn']}\)"
    with hold(store, [held], "criteo/manual__9/export/-1"), pytest.raises(AudienceLockedError, match=busy):
        erase(sqlite_warehouse, PEOPLE[0])
    assert sha(PEOPLE[0]) not in criteo_sandbox.members(exported["vip"])
    assert sha(PEOPLE[0]) in criteo_sandbox.members(exported["churn"])  # for the erasure's next run
    with closing(sqlite_warehouse.connect()) as db:
        ((audience_ids,),) = db.execute("SELECT audience_ids FROM erasure_audit")
    assert audience_ids == exported["vip"]
    CriteoEraseOperator(
        task_id="erase",
        sql_conn_id=sqlite_warehouse.conn_id,
        table="erasure_requests",
        audit_table="erasure_audit",
    ).execute(context={})
    assert sha(PEOPLE[0]) not in criteo_sandbox.members(exported["churn"])
