from __future__ import annotations

import pytest

from airflow_provider_criteo.client.resources import AudienceSegment
from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.workflows.ownership import claim, is_managed, ownership_tag, tagged
from tests.helpers import segment_export, sha


def test_tag_names_the_dag_and_task():
    tag = ownership_tag("crm_export", "export_vip")
    assert tag == "[managed by airflow-provider-criteo: crm_export/export_vip]"
    assert is_managed(f"VIP buyers {tag}")
    assert not is_managed("VIP buyers")
    assert not is_managed(None)


def test_tagging_replaces_an_earlier_tag():
    old = tagged("VIP buyers", ownership_tag("a", "b"))
    assert tagged(old, ownership_tag("c", "d")) == "VIP buyers [managed by airflow-provider-criteo: c/d]"


def test_tasks_whose_dotted_names_read_alike_do_not_own_each_other_s_audience():
    theirs = AudienceSegment("7", "1", "vip", ownership_tag("crm.vip", "export"), "ContactList")
    with pytest.raises(CriteoConfigurationError, match=r"managed by another export \(crm.vip/export\)"):
        claim(CriteoHook(), theirs, ownership_tag("crm", "vip.export"), adopt=False, mode="mirror")


def test_a_tag_older_versions_wrote_is_taken_and_rewritten(criteo_conn):
    hook = CriteoHook(criteo_conn)
    audience = hook.create_contact_list_segment(
        "vip", description="VIP [managed by airflow-provider-criteo: d.t]"
    )
    claim(hook, audience, ownership_tag("d", "t"), adopt=False, mode="mirror")
    assert (
        hook.find_contact_list_segment("vip").description == "VIP [managed by airflow-provider-criteo: d/t]"
    )


@pytest.fixture
def colleagues_audience(criteo_conn):
    hook = CriteoHook(criteo_conn)
    audience = hook.create_contact_list_segment("vip", description="Hand-built by the CRM team")
    hook.add_identifiers(audience.id, [sha("colleague@example.com")])
    return audience


@pytest.mark.parametrize("mode", ["mirror", "replace"])
def test_a_colleagues_audience_is_never_touched_by_default(
    sqlite_warehouse, criteo_sandbox, colleagues_audience, mode
):
    sqlite_warehouse.load([("vip", "alice@example.com")])
    criteo_sandbox.clear_requests()
    with pytest.raises(CriteoConfigurationError, match="was not created by this provider"):
        segment_export(sqlite_warehouse, sync_mode=mode).execute(context={})
    assert criteo_sandbox.members(colleagues_audience.id) == {sha("colleague@example.com")}
    assert not [r for r in criteo_sandbox.requests if r.path.endswith("/contact-list")]


def test_add_only_may_add_to_any_audience(sqlite_warehouse, criteo_sandbox, colleagues_audience):
    sqlite_warehouse.load([("vip", "alice@example.com")])
    segment_export(sqlite_warehouse, sync_mode="add_only").execute(context={})
    assert criteo_sandbox.members(colleagues_audience.id) == {
        sha("colleague@example.com"),
        sha("alice@example.com"),
    }


def test_adopting_tags_the_audience_as_ours(sqlite_warehouse, criteo_sandbox, colleagues_audience):
    sqlite_warehouse.load([("vip", "alice@example.com")])
    segment_export(sqlite_warehouse, adopt_existing_audience=True).execute(context={})
    (segment,) = criteo_sandbox.segments()
    assert segment["attributes"]["description"] == (
        "Hand-built by the CRM team [managed by airflow-provider-criteo: no_dag/export]"
    )
    assert criteo_sandbox.members(colleagues_audience.id) == {sha("alice@example.com")}
    segment_export(sqlite_warehouse).execute(context={})  # ours from now on: no adoption needed


def test_a_dry_run_reports_the_refusal_too(sqlite_warehouse, criteo_sandbox, colleagues_audience):
    sqlite_warehouse.load([("vip", "alice@example.com")])
    with pytest.raises(CriteoConfigurationError, match="adopt_existing_audience=True"):
        segment_export(sqlite_warehouse, dry_run=True).execute(context={})


def test_audiences_we_create_carry_the_tag(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load([("vip", "alice@example.com")])
    segment_export(sqlite_warehouse, audience_description="VIP buyers").execute(context={})
    (segment,) = criteo_sandbox.segments()
    assert (
        segment["attributes"]["description"]
        == "VIP buyers [managed by airflow-provider-criteo: no_dag/export]"
    )
