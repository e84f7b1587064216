"""The file log and the listing, without Spark: what makes each file count once."""

from __future__ import annotations

import os

import pytest
from autoloader_files import age, write_text

from lakeport_autoloader.listing import Lister, glob_matcher
from lakeport_autoloader.options import AutoloaderOptionError, CloudFilesOptions, parse_bytes, parse_duration
from lakeport_autoloader.state import FileLog, state_directory


def new_log(folder, state, **kwargs):
    return FileLog(str(state), Lister(str(folder)), **kwargs)


def test_files_get_positions_once_oldest_first_and_survive_a_new_process(tmp_path):
    land = tmp_path / "land"
    age(write_text(land, "b.json", "{}\n"), 10)
    age(write_text(land, "a.json", "{}\n"), 20)
    write_text(land, "_SUCCESS", "")
    log = new_log(land, tmp_path / "state")
    assert log.discover() == 2
    assert [os.path.basename(f.path) for f in log.between(0, 2)] == ["a.json", "b.json"]

    write_text(land, "a.json", "{}\n{}\n")  # rewritten: not a new file
    write_text(land, "c.json", "{}\n")
    again = new_log(land, tmp_path / "state")  # another process: reads the log, appends only c
    assert again.discover() == 3
    assert [os.path.basename(f.path) for f in again.between(2, 3)] == ["c.json"]
    assert (tmp_path / "state" / "files.jsonl").read_text().count("\n") == 3


def test_allow_overwrites_logs_a_changed_file_again_and_reads_only_its_latest_entry(tmp_path):
    land = tmp_path / "land"
    age(write_text(land, "a.json", "{}\n"), 20)
    log = new_log(land, tmp_path / "state", allow_overwrites=True)
    assert log.discover() == 1
    write_text(land, "a.json", "{}\n{}\n")
    assert log.discover() == 2
    assert log.between(0, 1) == []  # superseded by position 1
    assert [f.size for f in log.between(0, 2)] == [6]


def test_max_file_age_leaves_old_files_out(tmp_path):
    land = tmp_path / "land"
    age(write_text(land, "old.json", "{}\n"), 3 * 86400)
    write_text(land, "new.json", "{}\n")
    log = new_log(land, tmp_path / "state", max_file_age_seconds=parse_duration("1 day"))
    assert log.discover() == 1 and os.path.basename(log.entries[0].path) == "new.json"


def test_an_unchanged_directory_is_not_read_again(tmp_path, monkeypatch):
    land = tmp_path / "land"
    for day in ("d1", "d2"):
        write_text(land / day, "a.json", "{}\n")
        age(land / day, 60)
    lister = Lister(str(land), recursive=True)
    assert len(list(lister.names())) == 2
    scanned = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: scanned.append(os.path.basename(p)) or real(p))
    write_text(land / "d2", "b.json", "{}\n")
    assert len(list(lister.names())) == 3
    assert sorted(scanned) == ["d2", "land"]  # d1 unchanged: its cached names are used


def test_glob_alternatives_and_state_directory_keys():
    match = glob_matcher("*.{json,csv}")
    assert [match(n) for n in ("a.json", "b.csv", "c.txt")] == [True, True, False]
    assert state_directory("/s", ["/land", "json"]) != state_directory("/s", ["/land", "csv"])
    assert state_directory("/s", ["/land", "json"]).startswith("/s/_lakeport_autoloader/")


def test_option_values_are_checked_naming_the_option():
    assert parse_bytes("10m") == 10 * 1024 * 1024 and parse_bytes("512") == 512
    with pytest.raises(AutoloaderOptionError, match="cloudFiles.maxFilesPerTrigger: must be positive"):
        CloudFilesOptions.from_options({"path": "/x", "cloudFiles.format": "json", "cloudFiles.maxFilesPerTrigger": 0})
    with pytest.raises(AutoloaderOptionError, match="cloudFiles.allowOverwrites: expected true or false"):
        CloudFilesOptions.from_options({"path": "/x", "cloudFiles.format": "json", "cloudFiles.allowOverwrites": "yes"})
    with pytest.raises(AutoloaderOptionError, match="cloudFiles.schemaEvolutionMode: expected one of addNewColumns"):
        CloudFilesOptions.from_options({"path": "/x", "cloudFiles.format": "json",
                                        "cloudFiles.schemaEvolutionMode": "merge"})
    with pytest.raises(AutoloaderOptionError, match="option cloudFiles.format is required"):
        CloudFilesOptions.from_options({"path": "/x"})


def test_databricks_only_options_warn(caplog):
    CloudFilesOptions.from_options({"path": "/x", "cloudFiles.format": "json", "cloudFiles.backfillInterval": "1 day"})
    assert "cloudFiles.backfillInterval only means something on Databricks; ignored locally" in caplog.text
