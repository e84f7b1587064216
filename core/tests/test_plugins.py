"""Plugin discovery through entry points, disabling, hook validation, and the CLI's plugin list."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import lakeport.testing
from lakeport import PluginError
from lakeport.plugins import Hooks, get_plugin_manager

PLUGIN_SOURCE = '''
from lakeport import hookimpl
from lakeport.handles import Handle


class MemoryHandle(Handle):
    kind = "memory"

    @classmethod
    def from_config(cls, project, table):
        return cls(table=table, project=project)


@hookimpl
def lakeport_register_handle_kinds(register):
    register("memory", MemoryHandle.from_config)


@hookimpl
def lakeport_spark_conf(project):
    return {"spark.lakeport.example": "on"}
'''


def make_distribution(root, name="lakeport_example", dist="lakeport-example-plugin", source=PLUGIN_SOURCE, ep_name="example"):
    return lakeport.testing.make_distribution(root, name=name, dist=dist, source=source, ep_name=ep_name)


@pytest.fixture
def example_plugin(tmp_path, monkeypatch):
    root = make_distribution(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop("lakeport_example", None)


def test_builtins_are_registered_like_plugins():
    pm = get_plugin_manager()
    assert pm.get_plugin("files") is not None
    assert pm.get_plugin("expectations") is not None


def test_entry_point_plugin_outside_the_repo_is_discovered(example_plugin):
    hooks = Hooks.load()
    assert hooks.handle_kinds.get("memory").plugin == "example"
    info = {i.name: i for i in hooks.describe()}["example"]
    assert (info.distribution, info.version, info.kinds) == ("lakeport-example-plugin", "1.2.3", ("memory",))
    assert hooks.spark_conf(None) == {"spark.lakeport.example": "on"}


def test_plugin_disabled_by_environment_variable(example_plugin, monkeypatch):
    monkeypatch.setenv("LAKEPORT_DISABLE_PLUGINS", "example, files")
    names = Hooks.load().handle_kinds.names()
    assert "memory" not in names and "files" not in names


def test_disabling_a_plugin_that_is_not_installed_warns_with_its_name(monkeypatch, caplog):
    monkeypatch.setenv("LAKEPORT_DISABLE_PLUGINS", "no_such_plugin, files")
    with caplog.at_level("WARNING", logger="lakeport"):
        Hooks.load()
    assert [r.getMessage() for r in caplog.records if "cannot disable" in r.getMessage()] == [
        "cannot disable plugin 'no_such_plugin': no such plugin is installed"
    ]


def test_plugin_disabled_by_project_config(example_plugin, lakeport_project):
    project = lakeport_project('[lakeport]\ndisable = ["example"]\n[tables.T]\nkind = "files"\npath = "/t"\n')
    assert project.hooks.pm.get_plugin("example") is None
    assert "memory" not in project.hooks.handle_kinds.names()


def test_disabled_kind_is_reported_as_unknown(example_plugin, lakeport_project):
    from lakeport import ConfigError

    with pytest.raises(ConfigError, match='tables.T.kind: unknown kind "memory"'):
        lakeport_project('[lakeport]\ndisable = ["example"]\n[tables.T]\nkind = "memory"\n')


def test_duplicate_kind_names_both_plugins(tmp_path, monkeypatch):
    make_distribution(tmp_path / "site")
    make_distribution(tmp_path / "site", name="lakeport_example_two", dist="lakeport-example-two", ep_name="example2")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(PluginError) as info:
        Hooks.load().handle_kinds  # noqa: B018
    message = str(info.value)
    assert "handle kind 'memory' is registered by both plugin" in message
    assert "'example'" in message and "'example2'" in message
    sys.modules.pop("lakeport_example", None)
    sys.modules.pop("lakeport_example_two", None)


def test_implementation_of_unknown_hook_is_rejected(tmp_path, monkeypatch):
    source = "from lakeport import hookimpl\n\n@hookimpl\ndef lakeport_regster_handle_kinds(register):\n    pass\n"
    make_distribution(tmp_path / "site", name="lakeport_typo", dist="lakeport-typo", source=source, ep_name="typo")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(Exception, match="lakeport_regster_handle_kinds"):
        get_plugin_manager()
    sys.modules.pop("lakeport_typo", None)


def test_broken_plugin_import_names_plugin_and_distribution(tmp_path, monkeypatch):
    make_distribution(tmp_path / "site", name="lakeport_broken", dist="lakeport-broken", source="import not_a_module_xyz\n", ep_name="broken")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(PluginError) as info:
        get_plugin_manager()
    message = str(info.value)
    assert "plugin 'broken'" in message and "lakeport-broken" in message and "LAKEPORT_DISABLE_PLUGINS=broken" in message


def run_plugins_command(cwd, pythonpath="", heavy=("pyspark", "deltalake", "databricks")):
    script = (
        "import sys, lakeport.cli\n"
        "code = lakeport.cli.main(['plugins', '--json'])\n"
        f"heavy = [m for m in {heavy!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, env=env)


def test_cli_plugins_with_only_installed_plugins_imports_no_heavy_module(tmp_path):
    done = run_plugins_command(tmp_path, heavy=("pyspark", "deltalake", "databricks", "pyarrow", "pandas", "cattrs", "importlib.metadata"))
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr


def test_cli_plugins_json_lists_builtins_without_importing_spark(example_plugin, tmp_path):
    done = run_plugins_command(tmp_path, str(example_plugin))
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    assert {"files", "expectations", "example"} <= set(plugins)
    assert plugins["files"] == {"name": "files", "distribution": "lakeport", "version": "0.1.0", "kinds": ["files"], "backends": {}, "pipeline_kinds": []}
    assert plugins["example"]["distribution"] == "lakeport-example-plugin"
    assert "HEAVY []" in done.stderr
