from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from airflow_provider_criteo.exceptions import CriteoConfigurationError, CriteoValidationError
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.operators.segment_export import SegmentExportOperator
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from tests.helpers import counted, criteo_connection_json, segment_export, sha

ROWS = [
    ("vip", "Alice@Example.com"),
    ("vip", " alice@example.com "),
    ("vip", "bob@example.org"),
    ("vip", None),
    ("vip", "not-an-email"),
    ("vip", ""),
    ("churn", "carol@example.net"),
    ("vip", "dave@example.co.uk"),
]
VIP = ["alice@example.com", "bob@example.org", "dave@example.co.uk"]
PLAINTEXT = [
    "alice@example.com",
    "bob@example.org",
    "dave@example.co.uk",
    "carol@example.net",
    "not-an-email",
]


def export(warehouse, **kwargs) -> SegmentExportOperator:
    return segment_export(warehouse, **({"sync_mode": "add_only"} | kwargs))


def audience_members(sandbox, name: str) -> set[str]:
    (segment,) = [s for s in sandbox.segments() if s["attributes"]["name"] == name]
    return sandbox.members(segment["id"])


def test_export_streams_hashes_and_counts(warehouse, criteo_conn, criteo_sandbox):
    warehouse.load(ROWS)
    summary = export(warehouse, chunk_size=2).execute(context={})
    assert audience_members(criteo_sandbox, "vip") == {sha(a) for a in VIP}
    counts = {
        "valid": 4,
        "invalid": 3,
        "prehashed": 0,
        "duplicates": 1,
        "added": 3,
        "removed": 0,
        "unchanged": 0,
        "requests": 1,
        "snapshot_version": 1,
        "criteo_valid": counted(criteo_sandbox, 3),  # what Criteo counted over the amendments, if it said
        "criteo_invalid": counted(criteo_sandbox, 0),
        "rejected_by_reason": {"null": 1, "invalid_format": 1, "empty": 1},
    }
    form = {"members": 3, "added": 3, "removed": 0, "unchanged": 0, "requests": 1, "snapshot_version": 1}
    assert summary == {
        "segment": "vip",
        "audience_name": "vip",
        "advertiser_id": DEFAULT_ADVERTISER_ID,
        "sync_mode": "add_only",
        "dry_run": False,
        "audience_id": summary["audience_id"],
        "audience_created": True,
        "rows_read": 7,
        "rows_without_identifier": 3,
        "audience_wiped": False,
        "audience_size": counted(criteo_sandbox, 3),
        "match_rate": counted(criteo_sandbox, 1.0),
        "statistics_note": summary["statistics_note"],  # checked below
        "criteo_count_before": None,  # a first export: nothing to compare
        "drift": None,
        **counts,  # one identifier type: the totals are its counts
        "identifier_types": {
            "email": {
                **counts,
                "forms": {
                    "sha256": {
                        **form,
                        "criteo_valid": counts["criteo_valid"],
                        "criteo_invalid": counts["criteo_invalid"],
                    }
                },
            }
        },
    }
    if criteo_sandbox.state.settings.schema_minimal:
        assert "not computed" in summary["statistics_note"]
    else:
        assert summary["statistics_note"] is None
    assert summary["audience_id"].isdigit()
    json.dumps(summary)


def test_a_second_export_finds_the_audience(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    first = export(sqlite_warehouse).execute(context={})
    second = export(sqlite_warehouse).execute(context={})
    assert second["audience_id"] == first["audience_id"]
    assert not second["audience_created"]
    assert len(criteo_sandbox.segments()) == 1


def test_no_plaintext_address_leaves_the_worker_or_reaches_logs(
    sqlite_warehouse, criteo_conn, criteo_sandbox, capfd
):
    sqlite_warehouse.load(ROWS)
    summary = export(sqlite_warehouse).execute(context={})
    sent = json.dumps([r.body for r in criteo_sandbox.requests])
    log = "".join(capfd.readouterr())
    assert "Read 7 rows of segment 'vip'" in log  # the task log was captured
    for text in (sent, log, json.dumps(summary)):
        for address in PLAINTEXT:
            assert address not in text
        assert "@example" not in text.lower()


def test_rejected_rows_are_logged_by_position_and_reason(sqlite_warehouse, criteo_conn, capfd):
    sqlite_warehouse.load(ROWS)
    export(sqlite_warehouse).execute(context={})
    assert "row 4: null; row 5: invalid_format; row 6: empty" in capfd.readouterr().out


def test_summary_is_logged_as_a_table(sqlite_warehouse, criteo_conn, capfd):
    sqlite_warehouse.load(ROWS)
    export(sqlite_warehouse).execute(context={})
    log = capfd.readouterr().out
    assert "rows_read                 7\n" in log
    assert "rejected: invalid_format  1\n" in log


def test_table_mode_reads_a_quoted_table(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.execute("CREATE TABLE vip_members (email TEXT, name TEXT)")
    sqlite_warehouse.execute("INSERT INTO vip_members VALUES ('Eve@Example.com', 'Eve')")
    summary = export(sqlite_warehouse, sql=None, parameters=None, table="vip_members").execute(context={})
    assert summary["added"] == 1
    assert audience_members(criteo_sandbox, "vip") == {sha("eve@example.com")}


@pytest.mark.parametrize(
    "table", ["vip; DROP TABLE segment_members", 'vip"--', "vip members", "a.b.c.d", "x/*", "", "1vip"]
)
def test_unsafe_table_is_refused_before_anything_is_sent(
    sqlite_warehouse, criteo_conn, criteo_sandbox, table
):
    with pytest.raises(CriteoConfigurationError, match="Unsafe name"):
        export(sqlite_warehouse, sql=None, parameters=None, table=table).execute(context={})
    assert criteo_sandbox.requests == []


def test_missing_column_names_the_columns_that_exist(warehouse, criteo_conn, criteo_sandbox):
    warehouse.load(ROWS)
    with pytest.raises(CriteoConfigurationError, match=r"no column 'mail'; its columns are \['email'\]"):
        export(warehouse, email_column="mail").execute(context={})
    assert criteo_sandbox.requests == []


def test_unknown_connection_says_how_to_define_it(criteo_conn, criteo_sandbox):
    op = SegmentExportOperator(task_id="t", segment="vip", sql_conn_id="nowhere", sql="SELECT 1")
    with pytest.raises(CriteoConfigurationError, match=r"Unknown connection 'nowhere'.*AIRFLOW_CONN_NOWHERE"):
        op.execute(context={})
    assert criteo_sandbox.requests == []


def test_non_sql_connection_is_refused(criteo_conn, criteo_sandbox):
    op = SegmentExportOperator(task_id="t", segment="vip", sql_conn_id=criteo_conn, sql="SELECT 1")
    with pytest.raises(CriteoConfigurationError, match="not a SQL"):
        op.execute(context={})
    assert criteo_sandbox.requests == []


def test_missing_consent_fails_before_reading(criteo_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, data_transfer_consent=False)
    )
    op = SegmentExportOperator(task_id="t", segment="vip", sql_conn_id="never-read", sql="SELECT 1")
    with pytest.raises(CriteoConfigurationError, match="has not agreed to send customer data"):
        op.execute(context={})
    assert criteo_sandbox.requests == []


def test_over_max_profiles_fails_and_sends_nothing(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    with pytest.raises(CriteoConfigurationError, match="3 distinct valid members, over max_profiles=2"):
        export(sqlite_warehouse, max_profiles=2).execute(context={})
    # Only the advertiser check, made before the rows were read: no member data.
    assert [request.path.rsplit("/", 1)[-1] for request in criteo_sandbox.requests] == ["token", "me"]


def test_max_profiles_none_lifts_the_cap(sqlite_warehouse, criteo_conn):
    sqlite_warehouse.load(ROWS)
    assert export(sqlite_warehouse, max_profiles=None).execute(context={})["added"] == 3


def test_dry_run_reports_and_sends_nothing(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    summary = export(sqlite_warehouse, dry_run=True).execute(context={})
    assert (summary["dry_run"], summary["added"], summary["audience_id"]) == (True, 3, None)
    assert criteo_sandbox.segments() == []
    assert all("contact-list" not in r.path and "create" not in r.path for r in criteo_sandbox.requests)


def test_replace_wipes_then_adds(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    hook = CriteoHook(criteo_conn)
    audience = hook.create_contact_list_segment("vip")
    hook.add_identifiers(audience.id, [sha("gone@example.com")])
    summary = export(sqlite_warehouse, sync_mode="replace", adopt_existing_audience=True).execute(context={})
    assert summary["audience_id"] == audience.id
    assert criteo_sandbox.members(audience.id) == {sha(a) for a in VIP}


def test_add_only_keeps_existing_members(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    hook = CriteoHook(criteo_conn)
    audience = hook.create_contact_list_segment("vip")
    hook.add_identifiers(audience.id, [sha("kept@example.com")])
    export(sqlite_warehouse, sync_mode="add_only").execute(context={})
    assert criteo_sandbox.members(audience.id) == {sha(a) for a in [*VIP, "kept@example.com"]}


def test_unhashed_export_sends_normalised_addresses(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    export(sqlite_warehouse, hash_emails=False).execute(context={})
    assert audience_members(criteo_sandbox, "vip") == set(VIP)


def test_audience_name_and_advertiser_override(sqlite_warehouse, criteo_sandbox, monkeypatch):
    criteo_sandbox.add_app("other-client", "other-secret-value", advertiser_ids=("12345", "67890"))
    conn = criteo_connection_json(
        criteo_sandbox.url, client_id="other-client", client_secret="other-secret-value"
    )
    monkeypatch.setenv("AIRFLOW_CONN_CRITEO_OTHER", conn)
    sqlite_warehouse.load(ROWS)
    summary = export(
        sqlite_warehouse, criteo_conn_id="criteo_other", advertiser_id="67890", audience_name="VIP buyers"
    ).execute(context={})
    (segment,) = criteo_sandbox.segments()
    assert segment["attributes"]["advertiserId"] == "67890"
    assert segment["attributes"]["name"] == "VIP buyers"
    assert summary["advertiser_id"] == "67890"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sync_mode": "merge"}, "sync_mode"),
        ({"table": "t"}, "exactly one"),
        ({"max_profiles": 0}, "max_profiles"),
        ({"on_missing_state": "ignore"}, "on_missing_state must be one of"),
        ({"on_drift": "wipe"}, "on_drift must be one of"),
        ({"batch_size": 50_001}, "batch_size must be between 1 and 50,000"),
        ({"max_removal_fraction": 1.5}, "max_removal_fraction must be between 0 and 1"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(sqlite_warehouse, kwargs, message):
    with pytest.raises((ValueError, CriteoConfigurationError), match=message):
        export(sqlite_warehouse, **kwargs)


def test_templated_sync_mode_is_checked_at_run_time(sqlite_warehouse, criteo_conn):
    op = export(sqlite_warehouse, sync_mode="{{ params.mode }}")
    op.sync_mode = "merge"  # as rendered
    with pytest.raises(CriteoConfigurationError, match="sync_mode must be one of"):
        op.execute(context={})


def test_a_dry_run_rendered_as_a_string_is_refused_having_sent_nothing(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    sqlite_warehouse.load(ROWS)
    op = export(sqlite_warehouse, dry_run="{{ params.dry_run }}")
    op.dry_run = "False"  # as rendered without render_template_as_native_obj: a truthy string
    with pytest.raises(CriteoConfigurationError, match="render_template_as_native_obj=True"):
        op.execute(context={})
    assert criteo_sandbox.segments() == []


def test_a_failed_upload_names_the_call_but_no_address(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    criteo_sandbox.inject_fault(path="contact-list", method="PATCH", status=400, count=1)
    with pytest.raises(CriteoValidationError) as err:
        export(sqlite_warehouse, hash_emails=False).execute(context={})
    message = str(err.value)
    assert "PATCH /2026-07/marketing-solutions/audience-segments/" in message
    assert "status=400" in message
    for address in PLAINTEXT:
        assert address not in message


@pytest.mark.parametrize("chunk_size", [1, 2, 3])
def test_rejected_rows_keep_their_position_across_chunks(sqlite_warehouse, criteo_conn, capfd, chunk_size):
    sqlite_warehouse.load(ROWS)
    summary = export(sqlite_warehouse, chunk_size=chunk_size).execute(context={})
    assert "row 4: null; row 5: invalid_format; row 6: empty" in capfd.readouterr().out
    assert (summary["rows_read"], summary["valid"], summary["duplicates"]) == (7, 4, 1)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_read_only_contact_list_is_refused_having_sent_nothing(
    sqlite_warehouse, criteo_conn, criteo_sandbox, dry_run
):
    sqlite_warehouse.load(ROWS)
    first = export(sqlite_warehouse, sync_mode="mirror").execute(context={})
    criteo_sandbox.set_read_only(first["audience_id"])  # Criteo or a partner maintains it now
    criteo_sandbox.clear_requests()
    sqlite_warehouse.load([("vip", "erin@example.com")])
    for mode in ("mirror", "replace", "add_only"):
        with pytest.raises(
            CriteoConfigurationError, match=r"'vip' \(id \d+\): Criteo keeps the contact list read-only"
        ):
            export(sqlite_warehouse, sync_mode=mode, dry_run=dry_run).execute(context={})
    assert not [r for r in criteo_sandbox.requests if "contact-list" in r.path and r.method != "GET"]
    assert audience_members(criteo_sandbox, "vip") == {sha(a) for a in VIP}


def test_identifiers_criteo_refuses_are_reported_with_digest_samples_only(
    sqlite_warehouse, criteo_conn, criteo_sandbox, capfd
):
    sqlite_warehouse.load(ROWS)
    refused = {
        "data": {
            "type": "ContactlistAmendment",
            "attributes": {
                "operation": "add",
                "nbValidIdentifiers": 1,
                "nbInvalidIdentifiers": 2,
                "sampleInvalidIdentifiers": [sha("bob@example.org"), "alice@example.com"],
            },
        },
        "errors": [],
        "warnings": [],
    }
    criteo_sandbox.inject_fault(
        path="contact-list", method="PATCH", status=200, body=json.dumps(refused), apply=True
    )
    summary = export(sqlite_warehouse).execute(context={})
    assert (summary["criteo_valid"], summary["criteo_invalid"]) == (1, 2)
    log = "".join(capfd.readouterr())
    assert "Criteo counted 2 of the email identifiers of this add batch as invalid" in log
    assert sha("bob@example.org") in log
    assert "alice@example.com" not in log


@pytest.mark.parametrize("criteo_sandbox", ["full"], indirect=True)
def test_the_readme_s_summary_table_is_what_the_task_logs(
    sqlite_warehouse, criteo_conn, criteo_sandbox, capfd
):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("6. **Returns** a JSON summary to XCom", 1)[1].split("```", 2)[1].strip()
    rows = [*ROWS[:6], ("vip", hashlib.md5(b"dave@example.co.uk").hexdigest())]  # the README's 7 rows
    sqlite_warehouse.load(rows)
    segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})
    logged = capfd.readouterr().out.split("Criteo export of segment 'vip':\n", 1)[1]
    assert logged.startswith(block + " ")  # then the log line's own suffix
