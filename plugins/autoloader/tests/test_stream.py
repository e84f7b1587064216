"""Auto Loader streams on real files: inference, stored schema, evolution, exactly-once, limits."""

from __future__ import annotations

import json

import pytest
from autoloader_files import age, flat, run, write_json


def stream(spark, folder, schema_location, **options):
    reader = spark.readStream.format("cloudFiles").option("cloudFiles.format", "json") \
        .option("cloudFiles.schemaLocation", str(schema_location))
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.load(str(folder))


def test_json_is_inferred_as_strings_with_rescued_data_and_stored(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_json(land, "a.json", ['{"id": 1, "name": "ada", "score": 1.50}', {"id": 2, "name": "bob"}])
    df = stream(cloud_files, land, tmp_path / "schema")

    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("id", "string"), ("name", "string"), ("score", "string"), ("_rescued_data", "string")]
    assert flat(run(df, tmp_path / "cp")) == [("1", "ada", "1.50", None), ("2", "bob", None, None)]
    stored = (tmp_path / "schema" / "_schemas" / "0").read_text().splitlines()
    assert stored[0] == "v1"
    assert [f["name"] for f in json.loads(stored[1])["fields"]] == ["id", "name", "score"]


def test_infer_column_types_and_schema_hints(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_json(land, "a.json", [{"id": 1, "ok": True, "price": 2.5, "tags": ["x"], "at": "2024-01-02"}])
    df = stream(cloud_files, land, tmp_path / "schema", **{
        "cloudFiles.inferColumnTypes": "true", "cloudFiles.schemaHints": "at date, extra int"})

    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("at", "date"), ("id", "bigint"), ("ok", "boolean"), ("price", "double"), ("tags", "array<string>"),
        ("extra", "int"), ("_rescued_data", "string")]
    import datetime

    assert flat(run(df, tmp_path / "cp")) == [(datetime.date(2024, 1, 2), 1, True, 2.5, ["x"], None, None)]


def test_each_file_once_across_restarts_and_new_files_only(cloud_files, tmp_path):
    land = tmp_path / "land"
    age(write_json(land, "1.json", [{"n": 1}]), 30)
    first = run(stream(cloud_files, land, tmp_path / "schema"), tmp_path / "cp")
    assert flat(first) == [("1", None)]

    age(write_json(land, "2.json", [{"n": 2}, {"n": 3}]), 20)
    write_json(land, "1.json", [{"n": 100}])  # rewritten: not read again (allowOverwrites is false)
    second = run(stream(cloud_files, land, tmp_path / "schema"), tmp_path / "cp")
    assert flat(second) == [("2", None), ("3", None)]
    assert run(stream(cloud_files, land, tmp_path / "schema"), tmp_path / "cp") == []


def test_allow_overwrites_reads_a_rewritten_file_again(cloud_files, tmp_path):
    land = tmp_path / "land"
    path = write_json(land, "1.json", [{"n": 1}])
    age(path, 30)
    opts = {"cloudFiles.allowOverwrites": "true"}
    assert flat(run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp")) == [("1", None)]
    write_json(land, "1.json", [{"n": 5}])
    assert flat(run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp")) == [("5", None)]


def test_max_files_and_max_bytes_per_trigger_whichever_first(cloud_files, tmp_path):
    land = tmp_path / "land"
    for i in range(5):
        age(write_json(land, f"{i}.json", [{"n": i}]), 50 - i)
    by_files = run(stream(cloud_files, land, tmp_path / "s1", **{"cloudFiles.maxFilesPerTrigger": "2"}),
                   tmp_path / "cp1")
    assert by_files == [[("0", None), ("1", None)], [("2", None), ("3", None)], [("4", None)]]

    size = (land / "0.json").stat().st_size
    by_bytes = run(stream(cloud_files, land, tmp_path / "s2", **{
        "cloudFiles.maxFilesPerTrigger": "4", "cloudFiles.maxBytesPerTrigger": str(size * 3)}), tmp_path / "cp2")
    assert [len(b) for b in by_bytes] == [3, 2]


def test_trigger_once_takes_everything_in_one_batch(cloud_files, tmp_path):
    land = tmp_path / "land"
    for i in range(3):
        write_json(land, f"{i}.json", [{"n": i}])
    batches = run(stream(cloud_files, land, tmp_path / "s", **{"cloudFiles.maxFilesPerTrigger": "1"}),
                  tmp_path / "cp", trigger="once")
    assert batches == [[("0", None), ("1", None), ("2", None)]]


def test_include_existing_files_false_skips_what_is_there_at_start(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_json(land, "old.json", [{"n": 1}])
    opts = {"cloudFiles.includeExistingFiles": "false"}
    assert flat(run(stream(cloud_files, land, tmp_path / "s", **opts), tmp_path / "cp")) == []
    write_json(land, "new.json", [{"n": 2}])
    assert flat(run(stream(cloud_files, land, tmp_path / "s", **opts), tmp_path / "cp")) == [("2", None)]


def test_add_new_columns_stops_then_the_restart_reads_them(cloud_files, tmp_path):
    land = tmp_path / "land"
    age(write_json(land, "1.json", [{"id": 1}]), 30)
    assert flat(run(stream(cloud_files, land, tmp_path / "schema"), tmp_path / "cp")) == [("1", None)]

    write_json(land, "2.json", [{"id": 2, "color": "red", "size": 3}])
    with pytest.raises(Exception, match=r"unknown fields during parsing: \[color, size\]"):
        run(stream(cloud_files, land, tmp_path / "schema"), tmp_path / "cp")
    assert (tmp_path / "schema" / "_schemas" / "1").exists()

    df = stream(cloud_files, land, tmp_path / "schema")
    assert df.columns == ["id", "color", "size", "_rescued_data"]
    assert flat(run(df, tmp_path / "cp")) == [("2", "red", "3", None)]


def test_rescue_mode_keeps_new_columns_in_rescued_data(cloud_files, tmp_path):
    land = tmp_path / "land"
    age(write_json(land, "1.json", [{"id": 1}]), 30)
    opts = {"cloudFiles.schemaEvolutionMode": "rescue"}
    run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp")
    path = write_json(land, "2.json", [{"id": 2, "Id": 7, "color": "red"}])

    (row,) = flat(run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp"))
    assert row[0] == "2"
    assert json.loads(row[1]) == {"Id": 7, "color": "red", "_file_path": f"file:{path}"}


def test_fail_on_new_columns_fails_and_keeps_the_schema(cloud_files, tmp_path):
    land = tmp_path / "land"
    age(write_json(land, "1.json", [{"id": 1}]), 30)
    opts = {"cloudFiles.schemaEvolutionMode": "failOnNewColumns"}
    run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp")
    write_json(land, "2.json", [{"id": 2, "color": "red"}])
    with pytest.raises(Exception, match=r"\[color\].*failOnNewColumns"):
        run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp")
    assert not (tmp_path / "schema" / "_schemas" / "1").exists()


def test_given_schema_wrong_types_and_malformed_records_are_rescued(cloud_files, tmp_path):
    land = tmp_path / "land"
    path = write_json(land, "1.json", [{"id": 1, "name": "ada"}, {"id": "two", "name": "bob"}, "{not json"])
    df = cloud_files.readStream.format("cloudFiles").option("cloudFiles.format", "json") \
        .option("rescuedDataColumn", "_rescued").schema("id BIGINT, name STRING, _rescued STRING").load(str(land))

    rows = flat(run(df, tmp_path / "cp"))
    assert len(rows) == 3
    by_name = {r[1]: r for r in rows}
    assert by_name["ada"][:2] == (1, "ada") and by_name["ada"][2] is None
    assert by_name["bob"][0] is None
    assert json.loads(by_name["bob"][2]) == {"id": "two", "_file_path": f"file:{path}"}
    assert json.loads(by_name[None][2]) == {"_corrupt_record": "{not json", "_file_path": f"file:{path}"}


def test_malformed_record_without_rescue_column_fails_naming_the_file(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_json(land, "bad.json", [{"id": 1}, "{not json"])
    df = cloud_files.readStream.format("cloudFiles").option("cloudFiles.format", "json") \
        .schema("id BIGINT").load(str(land))
    with pytest.raises(Exception, match=r"malformed record in .*bad.json at line 2"):
        run(df, tmp_path / "cp")


def test_a_failed_batch_is_replayed_with_the_same_files_and_a_new_checkpoint_reads_all(cloud_files, tmp_path):
    land = tmp_path / "land"
    for i in range(3):
        age(write_json(land, f"{i}.json", [{"n": i}]), 30 - i)
    opts = {"cloudFiles.maxFilesPerTrigger": "2"}
    seen: list[list[str]] = []

    def failing_once(batch, batch_id):
        rows = sorted(r.n for r in batch.collect())
        seen.append(rows)
        if len(seen) == 1:
            raise RuntimeError("sink down")

    query = stream(cloud_files, land, tmp_path / "schema", **opts).writeStream.foreachBatch(failing_once) \
        .option("checkpointLocation", str(tmp_path / "cp")).trigger(availableNow=True).start()
    with pytest.raises(Exception, match="sink down"):
        query.awaitTermination(120)
    age(write_json(land, "3.json", [{"n": 3}]), 5)  # lands between the crash and the restart
    replayed = run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp")
    assert seen == [["0", "1"]]
    assert replayed == [[("0", None), ("1", None)], [("2", None), ("3", None)]]

    state = list((tmp_path / "schema" / "_lakeport_autoloader").glob("*/files.jsonl"))
    assert len(state) == 1 and state[0].read_text().count("\n") == 4
    fresh = run(stream(cloud_files, land, tmp_path / "schema", **{"cloudFiles.maxFilesPerTrigger": "10"}),
                tmp_path / "cp-new")
    assert fresh == [[("0", None), ("1", None), ("2", None), ("3", None)]]


def test_parser_mode_failfast_and_dropmalformed(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_json(land, "1.json", [{"id": 1}, "{broken"])
    with pytest.raises(Exception, match=r"malformed record in .*1.json at line 2: '\{broken'"):
        run(stream(cloud_files, land, tmp_path / "s1", mode="FAILFAST"), tmp_path / "cp1")
    assert flat(run(stream(cloud_files, land, tmp_path / "s2", mode="DROPMALFORMED"), tmp_path / "cp2")) == [("1", None)]


def test_mode_none_ignores_new_columns_and_has_no_rescued_column(cloud_files, tmp_path):
    land = tmp_path / "land"
    age(write_json(land, "1.json", [{"id": 1}]), 30)
    opts = {"cloudFiles.schemaEvolutionMode": "none"}
    df = stream(cloud_files, land, tmp_path / "schema", **opts)
    assert df.columns == ["id"]
    run(df, tmp_path / "cp")
    write_json(land, "2.json", [{"id": 2, "color": "red"}])
    assert flat(run(stream(cloud_files, land, tmp_path / "schema", **opts), tmp_path / "cp")) == [("2",)]
    assert stream(cloud_files, land, tmp_path / "schema", **opts).columns == ["id"]
