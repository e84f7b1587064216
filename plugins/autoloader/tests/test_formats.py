"""Every format Auto Loader reads, with the batch read, _metadata, filters and the handle."""

from __future__ import annotations

import datetime
import json

import pytest
from autoloader_files import flat, run, write_json, write_text

AVRO = "org.apache.spark.sql.avro.AvroFileFormat"


def load(spark, fmt, folder, schema_location, **options):
    reader = spark.readStream.format("cloudFiles").option("cloudFiles.format", fmt)
    if schema_location is not None:
        reader = reader.option("cloudFiles.schemaLocation", str(schema_location))
    return reader.options(**options).load(str(folder))


def test_csv_with_header_strings_unless_infer_column_types(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_text(land, "a.csv", "id,name,score\n1,ada,2.5\n2,bob,\n")
    strings = load(cloud_files, "csv", land, tmp_path / "s1", header="true")
    assert strings.columns == ["id", "name", "score", "_rescued_data"]
    assert flat(run(strings, tmp_path / "cp1")) == [("1", "ada", "2.5", None), ("2", "bob", None, None)]

    typed = load(cloud_files, "csv", land, tmp_path / "s2", header="true", **{"cloudFiles.inferColumnTypes": "true"})
    assert [f.dataType.simpleString() for f in typed.schema.fields] == ["int", "string", "double", "string"]
    assert flat(run(typed, tmp_path / "cp2")) == [(1, "ada", 2.5, None), (2, "bob", None, None)]


def test_csv_wrong_typed_value_is_rescued(cloud_files, tmp_path):
    land = tmp_path / "land"
    path = write_text(land, "a.csv", "id,name\n1,ada\nx,bob\n")
    df = load(cloud_files, "csv", land, tmp_path / "s", header="true", **{"cloudFiles.schemaHints": "id int"})
    rows = {r[1]: r for r in flat(run(df, tmp_path / "cp"))}
    assert rows["ada"] == (1, "ada", None)
    assert rows["bob"][0] is None and json.loads(rows["bob"][2]) == {"id": "x", "_file_path": f"file:{path}"}


def test_parquet_orc_and_avro_keep_their_types(cloud_files, tmp_path):
    import pyarrow as pa
    import pyarrow.orc as orc
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["ada", "bob"], "ok": [True, False]})
    (tmp_path / "pq").mkdir()
    pq.write_table(table, tmp_path / "pq" / "a.parquet")
    (tmp_path / "orc").mkdir()
    orc.write_table(table, str(tmp_path / "orc" / "a.orc"))
    cloud_files.createDataFrame([(1, "ada", True), (2, "bob", False)], "id BIGINT, name STRING, ok BOOLEAN") \
        .coalesce(1).write.format(AVRO).save(str(tmp_path / "avro"))

    expected = [(1, "ada", True, None), (2, "bob", False, None)]
    for fmt in ("parquet", "orc", "avro"):
        folder = tmp_path / {"parquet": "pq", "orc": "orc", "avro": "avro"}[fmt]
        df = load(cloud_files, fmt, folder, tmp_path / f"s-{fmt}")
        assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
            ("id", "bigint"), ("name", "string"), ("ok", "boolean"), ("_rescued_data", "string")], fmt
        assert flat(run(df, tmp_path / f"cp-{fmt}")) == expected, fmt


def test_avro_dates_timestamps_decimals_and_codecs(cloud_files, tmp_path):
    df = cloud_files.sql("SELECT 1 AS id, DATE'2024-02-29' AS day, TIMESTAMP'2024-01-01 10:00:00 UTC' AS at, "
                         "CAST(12.34 AS DECIMAL(6,2)) AS amount, array('a','b') AS tags")
    for codec in ("snappy", "deflate", "uncompressed"):
        df.write.format(AVRO).option("compression", codec).mode("append").save(str(tmp_path / "avro"))
    stream = load(cloud_files, "avro", tmp_path / "avro", tmp_path / "s")
    rows = flat(run(stream, tmp_path / "cp"))
    import decimal

    at = datetime.datetime(2024, 1, 1, 10, 0)
    assert rows == [(1, datetime.date(2024, 2, 29), at, decimal.Decimal("12.34"), ["a", "b"], None)] * 3


def test_text_and_binary_file(cloud_files, tmp_path):
    write_text(tmp_path / "txt", "a.txt", "one\ntwo\n")
    assert flat(run(load(cloud_files, "text", tmp_path / "txt", None), tmp_path / "cp1")) == [("one",), ("two",)]

    path = write_text(tmp_path / "bin", "a.bin", "xyz")
    df = load(cloud_files, "binaryFile", tmp_path / "bin", None)
    assert df.columns == ["path", "modificationTime", "length", "content"]
    ((file, modified, length, content),) = flat(run(df, tmp_path / "cp2"))
    assert (file, length, bytes(content)) == (f"file:{path}", 3, b"xyz")
    assert isinstance(modified, datetime.datetime)


def test_subfolders_glob_filter_and_metadata(cloud_files, tmp_path):
    land = tmp_path / "land"
    top = write_json(land, "a.json", [{"n": 1}])
    write_json(land, "skip.txt", [{"n": 2}])
    write_json(land / "2024" / "01", "b.json", [{"n": 3}])
    write_json(land, "_hidden.json", [{"n": 4}])
    write_json(land / "_temporary", "c.json", [{"n": 5}])

    df = load(cloud_files, "json", land, tmp_path / "s2", pathGlobFilter="*.{json,jsonl}",
              **{"lakeport.includeMetadata": "true"})
    assert df.columns == ["n", "_rescued_data", "_metadata"]
    rows = run(df.selectExpr("n", "_metadata.file_path", "_metadata.file_name", "_metadata.file_size",
                             "_metadata.file_modification_time"), tmp_path / "cp2")
    by_n = {r[0]: r for r in flat(rows)}
    assert sorted(by_n) == ["1", "3"]  # files in subfolders too, as Auto Loader lists them
    assert by_n["1"][1:4] == (f"file:{top}", "a.json", top.stat().st_size)
    assert abs(by_n["1"][4].timestamp() - top.stat().st_mtime) < 1


def test_partition_columns_from_key_value_folders(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_json(land / "day=2024-01-02" / "region=eu", "a.json", [{"n": 1}])
    write_json(land / "day=oops" / "region=us", "b.json", [{"n": 2}])
    options = {"cloudFiles.partitionColumns": "day,region", "cloudFiles.schemaHints": "day date"}
    df = load(cloud_files, "json", land, tmp_path / "s", **options)
    assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == [
        ("n", "string"), ("day", "date"), ("region", "string"), ("_rescued_data", "string")]
    rows = {r[0]: r for r in flat(run(df, tmp_path / "cp"))}
    assert rows["1"] == ("1", datetime.date(2024, 1, 2), "eu", None)
    assert rows["2"][1:3] == (None, "us")
    assert json.loads(rows["2"][3])["day"] == "oops"

    off = load(cloud_files, "json", land, tmp_path / "s2", recursiveFileLookup="true",
               **{"cloudFiles.partitionColumns": "day"})
    assert off.columns == ["n", "_rescued_data"]


def test_batch_read_uses_the_same_schema_logic(cloud_files, tmp_path):
    land = tmp_path / "land"
    write_json(land, "a.json", [{"id": 1, "x": "a"}, {"id": 2}])
    df = cloud_files.read.format("cloudFiles").option("cloudFiles.format", "json") \
        .option("cloudFiles.schemaLocation", str(tmp_path / "s")).load(str(land))
    assert sorted(tuple(r) for r in df.collect()) == [("1", "a", None), ("2", None, None)]
    assert (tmp_path / "s" / "_schemas" / "0").exists()


def test_unknown_and_databricks_only_options_are_errors_naming_the_option(cloud_files, tmp_path):
    write_json(tmp_path / "land", "a.json", [{"n": 1}])
    # Spark lower-cases option keys before a Python source sees them; the handle keeps the user's spelling.
    with pytest.raises(Exception, match="(?i)unknown Auto Loader option 'cloudFiles.maxFilePerTrigger'.*did you mean "
                                        "cloudFiles.maxFilesPerTrigger"):
        load(cloud_files, "json", tmp_path / "land", tmp_path / "s", **{"cloudFiles.maxFilePerTrigger": "1"})
    with pytest.raises(Exception, match="cloudFiles.useNotifications=true needs Databricks"):
        load(cloud_files, "json", tmp_path / "land", tmp_path / "s", **{"cloudFiles.useNotifications": "true"})
    with pytest.raises(Exception, match="addNewColumns is not supported when a schema is given"):
        run(cloud_files.readStream.format("cloudFiles").option("cloudFiles.format", "json")
            .option("cloudFiles.schemaEvolutionMode", "addNewColumns").schema("n STRING").load(str(tmp_path / "land")),
            tmp_path / "cp")
    relaxed = load(cloud_files, "json", tmp_path / "land", tmp_path / "s2", **{
        "cloudFiles.validateOptions": "false", "cloudFiles.noSuchOption": "1", "cloudFiles.backfillInterval": "1 day"})
    assert flat(run(relaxed, tmp_path / "cp2")) == [("1", None)]


def test_no_files_to_infer_from_is_a_clear_error(cloud_files, tmp_path):
    (tmp_path / "land").mkdir()
    with pytest.raises(Exception, match="cannot infer a schema: there are no json files in"):
        load(cloud_files, "json", tmp_path / "land", tmp_path / "s")


def test_a_corrupt_file_fails_naming_it_unless_ignore_corrupt_files(cloud_files, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    land = tmp_path / "land"
    land.mkdir()
    pq.write_table(pa.table({"id": pa.array([1], pa.int64())}), land / "good.parquet")
    (land / "bad.parquet").write_bytes(b"not parquet at all")

    def stream(**options):
        return cloud_files.readStream.format("cloudFiles").option("cloudFiles.format", "parquet") \
            .options(**options).schema("id BIGINT").load(str(land))

    with pytest.raises(Exception, match=r"cannot read .*bad\.parquet: .*set option ignoreCorruptFiles=true"):
        run(stream(), tmp_path / "cp1")
    assert flat(run(stream(ignoreCorruptFiles="true"), tmp_path / "cp2")) == [(1,)]
