"""AutoloaderHandle: the same rows as format("cloudFiles"), config, errors, and Databricks pass-through."""

from __future__ import annotations

import json

import pytest
from autoloader_files import age, flat, run, write_json

from lakeport.api import ConfigError
from lakeport_autoloader import AutoloaderHandle


def land_files(folder):
    age(write_json(folder, "1.json", [{"id": 1, "name": "ada"}, {"id": 2, "Name": "x"}]), 30)
    age(write_json(folder, "2.json", [{"id": 3, "name": "cy"}, "{broken"]), 20)


def test_handle_and_format_cloud_files_give_the_same_rows(cloud_files, tmp_path):
    land = tmp_path / "land"
    land_files(land)
    options = {"cloudFiles.inferColumnTypes": True, "cloudFiles.maxFilesPerTrigger": 1}
    handle = AutoloaderHandle(path=str(land), format="json", schema_location=str(tmp_path / "s1"), options=options)
    through_handle = run(handle.read_stream(), tmp_path / "cp1")

    direct = cloud_files.readStream.format("cloudFiles").option("cloudFiles.format", "json") \
        .option("cloudFiles.schemaLocation", str(tmp_path / "s2")) \
        .option("cloudFiles.inferColumnTypes", "true").option("cloudFiles.maxFilesPerTrigger", 1).load(str(land))
    through_format = run(direct, tmp_path / "cp2")

    assert [[row[:2] for row in batch] for batch in through_handle] == [[(1, "ada"), (2, None)], [(3, "cy"), (None, None)]]
    strip = [[(r[0], r[1], r[2] and json.loads(r[2])) for r in b] for b in through_format]
    assert [[(r[0], r[1], r[2] and json.loads(r[2])) for r in b] for b in through_handle] == strip
    assert {json.dumps(r[2]) for b in strip for r in b if r[2]} == {
        json.dumps({"Name": "x", "_file_path": f"file:{land / '1.json'}"}),
        json.dumps({"_corrupt_record": "{broken", "_file_path": f"file:{land / '2.json'}"})}
    assert sorted((tuple(r) for r in handle.read().collect()), key=repr) == flat(through_handle)
    assert [f.name for f in handle.schema.fields] == ["id", "name"]


def test_from_config_with_options_as_databricks_spells_them(cloud_files, lakeport_project, tmp_lake):
    land = tmp_lake / "land"
    write_json(land, "a.json", [{"id": 1, "extra": "e"}])
    project = lakeport_project('''
        [tables.Events]
        kind = "autoloader"
        path = "{project_dir}/land"
        format = "json"
        schema_location = "{project_dir}/_schemas/events"
        schema = "id BIGINT"
        options = { "rescuedDataColumn" = "_rescued", "cloudFiles.schemaEvolutionMode" = "rescue" }
    ''')
    handle = AutoloaderHandle.from_config(project, "Events")
    assert isinstance(project.handle("Events"), AutoloaderHandle)
    ((ident, rescued),) = flat(run(handle.read_stream(), tmp_lake / "cp"))
    assert ident == 1 and json.loads(rescued) == {"extra": "e", "_file_path": f"file:{land / 'a.json'}"}


def test_config_errors_name_the_table_and_option(lakeport_project, tmp_lake):
    with pytest.raises(ConfigError, match=r"tables\.Bad: unknown Auto Loader option "
                                          r"'cloudFiles.inferColumnType' \(did you mean cloudFiles.inferColumnTypes\?\)"):
        lakeport_project('''
            [tables.Bad]
            kind = "autoloader"
            path = "{project_dir}/land"
            format = "json"
            options = { "cloudFiles.inferColumnType" = true }
        ''').handle("Bad")
    with pytest.raises(ConfigError, match=r"option cloudFiles.format: 'xml' is not supported"):
        AutoloaderHandle(path=str(tmp_lake), format="xml")
    with pytest.raises(ConfigError, match=r'tables.NoPath.path: kind "autoloader" needs the folder'):
        lakeport_project('[tables.NoPath]\nkind = "autoloader"\nformat = "json"\n').handle("NoPath")


class FakeReader:
    def __init__(self, calls):
        self.calls = calls

    def format(self, name):
        self.calls.append(("format", name))
        return self

    def options(self, **options):
        self.calls.append(("options", options))
        return self

    def schema(self, schema):
        self.calls.append(("schema", schema.simpleString()))
        return self

    def load(self, path):
        self.calls.append(("load", path))
        return "streaming-df"


class FakeSpark:
    def __init__(self):
        self.calls = []
        self.readStream = FakeReader(self.calls)

    @property
    def dataSource(self):  # noqa: N802
        raise AssertionError("on Databricks nothing is registered")


def test_on_databricks_it_is_cloud_files_with_the_options_unchanged(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    fake = FakeSpark()
    monkeypatch.setattr(AutoloaderHandle, "spark", property(lambda self: fake))
    monkeypatch.setattr(AutoloaderHandle, "hooks", property(lambda self: NoHooks()))
    handle = AutoloaderHandle(path="/Volumes/main/raw/events", format="avro", schema_location="/Volumes/s",
                              schema="id BIGINT", options={"cloudFiles.maxFilesPerTrigger": 10,
                                                           "lakeport.stateLocation": "/tmp/x"})
    assert handle.read_stream() == "streaming-df"
    assert fake.calls == [
        ("format", "cloudFiles"),
        ("options", {"cloudFiles.format": "avro", "cloudFiles.schemaLocation": "/Volumes/s",
                     "cloudFiles.maxFilesPerTrigger": "10"}),
        ("schema", "struct<id:bigint>"),
        ("load", "/Volumes/main/raw/events"),
    ]


class NoHooks:
    def after_read(self, context):
        pass


def test_declared_schema_gets_the_rescued_and_metadata_columns_asked_for(cloud_files, tmp_path):
    land = tmp_path / "land"
    path = write_json(land, "a.json", [{"id": 1, "more": True}])
    handle = AutoloaderHandle(path=str(land), format="json", schema="id BIGINT",
                              options={"rescuedDataColumn": "_rescued", "cloudFiles.schemaEvolutionMode": "rescue",
                                       "lakeport.includeMetadata": True})
    df = handle.read_stream()
    assert df.columns == ["id", "_rescued", "_metadata"]
    ((ident, rescued, metadata),) = flat(run(df, tmp_path / "cp"))
    assert (ident, json.loads(rescued)) == (1, {"more": True, "_file_path": f"file:{path}"})
    assert metadata["file_name"] == "a.json"
