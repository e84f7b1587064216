"""Reader and writer hooks: an audit plugin adds a column on write and filters on read."""

from __future__ import annotations

from lakeport import hookimpl


class AuditPlugin:
    def __init__(self):
        self.after_write = []

    @hookimpl
    def lakeport_before_write(self, write):
        from pyspark.sql import functions as F

        write.df = write.df.withColumn("_written_by", F.lit("audit"))

    @hookimpl
    def lakeport_after_read(self, read):
        if not read.streaming:
            read.df = read.df.drop("_written_by")

    @hookimpl
    def lakeport_after_write(self, write, result):
        self.after_write.append((write.handle.table, write.mode, result.mode))


def test_audit_plugin_sees_every_write_and_read(lakeport_project, spark, tmp_lake):
    audit = AuditPlugin()
    project = lakeport_project('[tables.T]\nkind = "files"\npath = "{project_dir}/t"\n', plugins=[audit])
    handle = project.handle("T")
    handle.append(spark.createDataFrame([(1,)], "id INT"))
    assert spark.read.parquet(str(tmp_lake / "t")).columns == ["id", "_written_by"]
    assert handle.read().columns == ["id"]
    assert audit.after_write == [("T", "append", "append")]


class CommandPlugin:
    @hookimpl
    def lakeport_register_commands(self, cli):
        cli.add_command("hello", help="say hello", configure=lambda p: p.add_argument("who"), run=lambda a: print(f"hello {a.who}") or 0)


def test_plugin_adds_a_cli_command(monkeypatch, capsys):
    from lakeport import cli, plugins

    original = plugins.get_plugin_manager
    monkeypatch.setattr(plugins, "get_plugin_manager", lambda disable=(), **kw: original(disable, plugins=[CommandPlugin()]))
    assert cli.main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"


class LazyCommandPlugin:
    @hookimpl
    def lakeport_register_commands(self, cli):
        cli.add_command("greet", help="say hello", configure="greet_cli:configure", run="greet_cli:run")


def test_a_command_given_by_reference_is_imported_only_when_it_runs(monkeypatch, capsys, tmp_path):
    import sys

    from lakeport import cli, plugins

    (tmp_path / "greet_cli.py").write_text(
        "def configure(parser):\n    parser.add_argument('who')\n\n"
        "def run(args):\n    print(f'hello {args.who}')\n    return 0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "greet_cli", raising=False)
    original = plugins.get_plugin_manager
    monkeypatch.setattr(plugins, "get_plugin_manager",
                        lambda disable=(), **kw: original(disable, plugins=[LazyCommandPlugin()]))
    assert cli.main(["plugins"]) == 0
    assert "greet_cli" not in sys.modules
    capsys.readouterr()
    assert cli.main(["greet", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n" and "greet_cli" in sys.modules


STREAMING = """
[tables.Src]
kind = "files"
path = "{project_dir}/src"
[tables.Dst]
kind = "files"
path = "{project_dir}/dst"
[pipelines.live]
source = "Src"
target = "Dst"
trigger = "available_now"
"""


def test_streaming_pipeline_uses_the_stream_loader_a_plugin_makes(lakeport_project):
    """A plugin's own pipeline key (``trigger``, with foreachBatch disabled) decides that it streams."""
    import attrs

    from lakeport.etl import Loader, StreamExtractor

    class Marker(Loader):
        pass

    @attrs.frozen
    class LiveKeys:
        trigger: str | None = None

    class StreamPlugin:
        @hookimpl
        def lakeport_register_settings(self, register):
            register(pipeline_keys=LiveKeys)

        @hookimpl
        def lakeport_make_stream_loader(self, project, pipeline, loader):
            keys = pipeline.extension(LiveKeys)
            if keys is None:
                return None
            marker = Marker()
            marker.wrapped = (keys.trigger, loader.mode, loader.handle.table)
            return marker

    project = lakeport_project(STREAMING, plugins=[StreamPlugin()], disable=["foreachbatch"])
    orchestrator = project.pipeline("live")
    assert orchestrator.steps[-1].wrapped == ("available_now", "append", "Dst")
    assert isinstance(orchestrator.steps[0], StreamExtractor)


def test_streaming_pipeline_without_a_stream_plugin_says_what_to_install(lakeport_project):
    import pytest

    from lakeport import ConfigError

    with pytest.raises(ConfigError, match=r"pipelines.live.trigger: this key belongs to plugin 'foreachbatch' "
                       r"from lakeport-foreachbatch \(pip install lakeport-foreachbatch\), which is disabled"):
        lakeport_project(STREAMING, disable=["foreachbatch"])
