from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from airflow_provider_criteo.segments.key_files import open_private
from airflow_provider_criteo.segments.spill import PREFIX, SpillFolder, memory_budget, spill_base


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_folder_and_its_files_are_private_and_gone_once_closed(tmp_path):
    with SpillFolder(str(tmp_path)) as spill:
        path = spill.new_path("run")
        os.close(open_private(path))
        assert (mode(spill.path), mode(path)) == (0o700, 0o600)
        assert os.path.dirname(path) == spill.path
        made = spill.path
    assert not os.path.exists(made)
    assert os.listdir(tmp_path) == []


def test_an_export_that_spills_nothing_makes_no_folder(tmp_path):
    with SpillFolder(str(tmp_path)) as spill:
        assert spill.path is None
    assert os.listdir(tmp_path) == []


def test_a_failure_inside_still_removes_the_folder(tmp_path):
    def failing_export():
        with SpillFolder(str(tmp_path)) as spill:
            os.close(open_private(spill.new_path("run")))
            raise RuntimeError("the export failed")

    with pytest.raises(RuntimeError):
        failing_export()
    assert os.listdir(tmp_path) == []


OWNER = textwrap.dedent(
    """
    import os, sys, time
    from airflow_provider_criteo.segments.key_files import open_private
    from airflow_provider_criteo.segments.spill import SpillFolder
    spill = SpillFolder(sys.argv[1]).__enter__()
    os.close(open_private(spill.new_path("run")))
    print(spill.path, flush=True)
    time.sleep(60)
    """
)


def start_owner(base):
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(base)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    return owner, owner.stdout.readline().strip()


def test_the_folder_of_a_killed_export_is_removed_by_the_next_one(tmp_path):
    owner, left = start_owner(tmp_path)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert os.path.isdir(left)  # kill -9 runs no clean-up
    with SpillFolder(str(tmp_path)) as spill:
        assert spill.swept == 1
        assert not os.path.exists(left)


def test_the_folders_of_live_and_paused_exports_are_kept(tmp_path):
    live, live_path = start_owner(tmp_path)
    paused, paused_path = start_owner(tmp_path)
    paused.send_signal(signal.SIGSTOP)
    try:
        with SpillFolder(str(tmp_path)) as spill:
            assert spill.swept == 0
            assert os.path.isdir(live_path)
            assert os.path.isdir(paused_path)
    finally:
        for owner in (live, paused):
            owner.send_signal(signal.SIGKILL)
            owner.wait()


def test_a_folder_left_without_its_owner_file_is_removed_once_old(tmp_path):
    old, young = tmp_path / f"{PREFIX}old", tmp_path / f"{PREFIX}young"
    old.mkdir()
    young.mkdir()
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    with SpillFolder(str(tmp_path)) as spill:
        assert spill.swept == 1
        assert not old.exists()
        assert young.exists()


def test_other_folders_in_the_base_are_never_touched(tmp_path):
    (tmp_path / "someone-else").mkdir()
    (tmp_path / "criteo-notes.txt").write_text("mine")
    with SpillFolder(str(tmp_path)):
        pass
    assert sorted(os.listdir(tmp_path)) == ["criteo-notes.txt", "someone-else"]


def test_the_location_and_the_budget_come_from_the_criteo_section(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CRITEO__SPILL_LOCATION", str(tmp_path / "spill"))
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", "16")
    assert (spill_base(), memory_budget()) == (str(tmp_path / "spill"), 16 * 2**20)
    with SpillFolder(spill_base()) as spill:
        os.close(open_private(spill.new_path("run")))
        assert os.path.dirname(spill.path) == str(tmp_path / "spill")


def test_the_defaults_are_the_temporary_folder_and_64_mib(monkeypatch):
    monkeypatch.delenv("AIRFLOW__CRITEO__SPILL_LOCATION", raising=False)
    monkeypatch.delenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", raising=False)
    import tempfile

    assert (spill_base(), memory_budget()) == (tempfile.gettempdir(), 64 * 2**20)


@pytest.mark.parametrize("setting", ["0", "-5"])
def test_a_budget_of_nothing_is_refused(monkeypatch, setting):
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", setting)
    with pytest.raises(ValueError, match="memory_budget_mb must be a positive number of MiB"):
        memory_budget()


def test_a_budget_may_be_a_fraction_of_a_megabyte(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", "0.5")
    assert memory_budget() == 2**19
