from __future__ import annotations

import hashlib
import time

import pytest
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState

from tests.helpers import load_dag

ROWS = [
    ("vip", "Alice@Example.com"),
    ("vip", "bob@example.org"),
    ("vip", "bad"),
    ("churn", "carol@example.net"),
]


def sha(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


@pytest.fixture
def e2e_dag(airflow_db):
    return load_dag("criteo_export_e2e")


@pytest.fixture
def forms_dag(airflow_db):
    return load_dag("criteo_identifier_forms_e2e")


def summaries(run, task_id: str = "export") -> dict[str, dict]:
    """The XCom summaries of the run's export tasks, by segment."""
    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(key="return_value", run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id)
        )
        values = [XComModel.deserialize_value(row) for row in rows]
    return {value["segment"]: value for value in values}


def audience(sandbox, name):
    (segment,) = [s for s in sandbox.segments() if s["attributes"]["name"] == name]
    return sandbox.members(segment["id"])


def test_mapped_export_of_two_segments(e2e_dag, warehouse, criteo_conn, criteo_sandbox):
    warehouse.load(ROWS)
    run = e2e_dag.test(run_conf={"segments": ["vip", "churn"], "sql": warehouse.segment_sql})
    assert run.state == DagRunState.SUCCESS
    exports = [ti for ti in run.get_task_instances() if ti.task_id == "export"]
    assert sorted(ti.map_index for ti in exports) == [0, 1]
    assert {ti.state for ti in exports} == {TaskInstanceState.SUCCESS}
    assert audience(criteo_sandbox, "vip") == {sha("alice@example.com"), sha("bob@example.org")}
    assert audience(criteo_sandbox, "churn") == {sha("carol@example.net")}
    by_segment = summaries(run)
    assert (by_segment["vip"]["rows_read"], by_segment["vip"]["added"], by_segment["vip"]["invalid"]) == (
        3,
        2,
        1,
    )
    assert (by_segment["churn"]["rows_read"], by_segment["churn"]["added"]) == (1, 1)


def test_dry_run_from_the_trigger_form(e2e_dag, sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    run = e2e_dag.test(run_conf={"segments": ["vip"], "dry_run": True})
    assert run.state == DagRunState.SUCCESS
    assert criteo_sandbox.segments() == []
    assert summaries(run)["vip"]["dry_run"] is True


MD5 = [hashlib.md5(f"md5-{i}@example.com".encode()).hexdigest() for i in range(2)]
# (e-mail, phone): Criteo's documented phone examples and the numbers libphonenumber must get right.
PROFILES = [
    ("Ann@Example.com", "+33 1 40 40 22 90"),  # Criteo's example: sha256("33140402290")
    ("bob@example.org", "+1 (234) 567-8910"),  # Criteo's example: sha256("12345678910")
    ("carol@example.net", "33 1 40 40 22 92"),  # a country code written without +, not doubled
    ("dave@example.com", "+44 (0)20 7123 4567"),  # a (0) trunk prefix
    ("erin@example.com", "0044 20 7123 4568"),  # the 00 international prefix
    ("frank@example.com", "06 12 34 56 78"),  # national, from phone_region
    ("gina@example.com", "+81-12-3456-7891"),  # possible, in a range libphonenumber does not know: sent
    ("hugo@example.com", "+33 1 40"),  # impossible: refused (too_short)
    (MD5[0].upper(), None),  # e-mails given as MD5 digests, sent as they are
    (MD5[1], "not a number"),
]
EXPECTED_PHONES = {
    "fda66831d0cb0eb4bffb21bc795308d69921c211c57be0ae15702071e3b9e988",  # Criteo's own test vectors
    "63640264849a87c90356129d99ea165e37aa5fabc1fea46906df1a7ca50db492",
    sha("33140402292"),
    sha("442071234567"),
    sha("442071234568"),
    sha("33612345678"),
    sha("811234567891"),
}
EXPECTED_EMAILS = {*(sha(email.lower()) for email, _ in PROFILES[:8]), *MD5}


def load_profiles(warehouse) -> None:
    warehouse.add_columns("phone")
    warehouse.insert(("segment", "email", "phone"), [("vip", email, phone) for email, phone in PROFILES])


def test_every_form_criteo_takes_reaches_the_audience_from_a_real_run(
    forms_dag, sqlite_warehouse, criteo_conn, criteo_sandbox
):
    load_profiles(sqlite_warehouse)
    # Rate-limit headers as a proxy may send them: in milliseconds, on a 200 and on a 429.
    in_ms = str(int(time.time() * 1000) + 1500)
    criteo_sandbox.inject_fault(
        path="contact-list", headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": in_ms}
    )
    criteo_sandbox.inject_fault(path="contact-list", status=429, headers={"x-ratelimit-reset": in_ms})
    run = forms_dag.test()
    assert run.state == DagRunState.SUCCESS
    summary = summaries(run)["vip"]
    assert criteo_sandbox.members(summary["audience_id"], "phoneNumber") == EXPECTED_PHONES
    assert criteo_sandbox.members(summary["audience_id"], "email") == EXPECTED_EMAILS
    amendments = [
        r.body["data"]["attributes"]["identifiers"]
        for r in criteo_sandbox.requests
        if r.method == "PATCH" and r.path.endswith("/contact-list") and r.status == 200
    ]
    assert sorted(map(len, amendments)) == [2, 7, 8]  # MD5 e-mails in a request of their own
    phones = summary["identifier_types"]["phoneNumber"]
    assert phones["rejected_by_reason"] == {"too_short": 1, "null": 1, "invalid_format": 1}
    assert summary["identifier_types"]["email"]["forms"]["md5"]["members"] == 2
    again = forms_dag.test()
    assert (summaries(again)["vip"]["added"], summaries(again)["vip"]["removed"]) == (0, 0)


def test_a_read_only_list_fails_the_run_having_sent_nothing(
    forms_dag, sqlite_warehouse, criteo_conn, criteo_sandbox
):
    load_profiles(sqlite_warehouse)
    assert forms_dag.test().state == DagRunState.SUCCESS
    (audience,) = criteo_sandbox.segments()
    criteo_sandbox.set_read_only(audience["id"])
    criteo_sandbox.clear_requests()
    sqlite_warehouse.insert(("segment", "email", "phone"), [("vip", "new@example.com", None)])
    run = forms_dag.test()
    assert run.state == DagRunState.FAILED
    assert not [r for r in criteo_sandbox.requests if "contact-list" in r.path and r.method != "GET"]
    assert sha("new@example.com") not in criteo_sandbox.members(audience["id"])
