"""Plugins own their settings and pipeline kinds: declared through hooks, structured by core's converter.

The pipeline-kind plugin here is a real distribution outside the repository
(a package and a dist-info with an entry point), found by ``lakeport run`` in
a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

from lakeport import ConfigError, Project, hookimpl
from lakeport.config.loader import tomllib  # tomli on Python 3.10
from lakeport.first_party import FIRST_PARTY_PLUGINS
from lakeport.plugins import Hooks, get_plugin_manager
from lakeport.testing import make_distribution

REPO = Path(__file__).resolve().parents[2]

TABLE = '[tables.T]\nkind = "files"\npath = "/tmp/t"\n'


@attrs.frozen
class GreeterSettings:
    greeting: str = "hello"
    times: int = 1


class GreeterPlugin:
    @hookimpl
    def lakeport_register_settings(self, register):
        register(GreeterSettings)


def project_with(text: str, *plugins: object) -> Project:
    return Project.from_toml(textwrap.dedent(text), source="lakeport.toml", plugins=plugins)


def greeter_project(section: str) -> Project:
    pm = get_plugin_manager()
    pm.register(GreeterPlugin(), name="greeter")
    return Project.from_toml(TABLE + section, source="lakeport.toml", hooks=Hooks(pm))


def test_a_plugin_reads_back_its_own_section_as_its_class():
    project = greeter_project('[plugins.greeter]\ngreeting = "hej"\n')
    assert project.plugin_settings(GreeterSettings) == GreeterSettings(greeting="hej", times=1)


def test_a_plugin_without_a_section_in_the_file_gets_its_defaults():
    assert greeter_project("").plugin_settings(GreeterSettings) == GreeterSettings()


def test_a_bad_key_in_a_plugin_section_names_the_section_and_the_key():
    with pytest.raises(ConfigError) as info:
        greeter_project('[plugins.greeter]\ngreting = "hej"\ntimes = "twice"\n')
    message = str(info.value)
    assert "lakeport.toml: 2 problems" in message
    assert "plugins.greeter: unknown key(s) greting; valid keys: greeting, times" in message
    assert "plugins.greeter.times: expected an integer, got str 'twice'" in message


def test_a_section_of_a_first_party_plugin_that_is_not_installed_names_its_distribution():
    hooks = Hooks(get_plugin_manager(entry_points=False))  # only core's built-ins
    with pytest.raises(ConfigError) as info:
        Project.from_toml('[plugins.delta]\nbackend = "native"\n', source="lakeport.toml", hooks=hooks)
    assert str(info.value) == (
        "lakeport.toml: plugins.delta: plugin 'delta' from lakeport-delta (pip install lakeport-delta) "
        "is not installed (installed plugins: etl, expectations, files)"
    )


def test_a_first_party_kind_or_pipeline_key_that_is_not_installed_says_what_to_install():
    hooks = Hooks(get_plugin_manager(entry_points=False))
    text = TABLE + '[tables.D]\nkind = "delta"\npath = "/tmp/d"\n[pipelines.p]\nsource = "T"\ntarget = "T"\ntrigger = "once"\n'
    with pytest.raises(ConfigError) as info:
        Project.from_toml(text, source="lakeport.toml", hooks=hooks)
    assert info.value.problems == [
        'tables.D.kind: unknown kind "delta" (installed kinds: files); kind "delta" is provided by plugin '
        "'delta' from lakeport-delta (pip install lakeport-delta), which is not installed",
        "pipelines.p.trigger: this key belongs to plugin 'foreachbatch' from lakeport-foreachbatch "
        "(pip install lakeport-foreachbatch), which is not installed",
    ]


def test_the_delta_backend_is_the_delta_plugins_setting():
    from lakeport_delta.settings import Backend, DeltaSettings

    project = project_with(TABLE + '[plugins.delta]\nbackend = "embedded"\n[tables.D]\nkind = "delta"\npath = "/tmp/d"\n')
    assert project.plugin_settings(DeltaSettings).backend is Backend.EMBEDDED
    assert project.handle("D").backend_setting is Backend.EMBEDDED


def test_two_plugins_claiming_one_pipeline_key_is_an_error_naming_both():
    @attrs.frozen
    class Keys:
        trigger: str | None = None

    class Rival:
        @hookimpl
        def lakeport_register_settings(self, register):
            register(pipeline_keys=Keys)

    pm = get_plugin_manager()
    pm.register(Rival(), name="rival")
    with pytest.raises(Exception, match="pipeline key 'trigger' of kind 'etl' is declared by both plugin 'foreachbatch' and plugin 'rival'"):
        Project.from_toml(TABLE + '[pipelines.p]\nsource = "T"\ntarget = "T"\ntrigger = "once"\n', hooks=Hooks(pm))


# -- the first-party table is the truth about our distributions --------------------------
@pytest.mark.parametrize("entry", FIRST_PARTY_PLUGINS, ids=lambda e: e.plugin)
def test_first_party_table_matches_the_plugin_distribution(entry):
    folder = REPO / "plugins" / entry.plugin
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == entry.distribution
    assert entry.plugin in pyproject["project"]["entry-points"]["lakeport"]
    assert f"pip install {entry.distribution}" in (folder / "README.md").read_text()
    hooks = Hooks.load()
    assert tuple(k.name for k in hooks.handle_kinds.provided_by(entry.plugin)) == entry.kinds
    assert tuple(k.name for k in hooks.pipeline_kinds.provided_by(entry.plugin)) == entry.pipeline_kinds
    declared = hooks.settings.by_plugin.get(entry.plugin)
    keys_class = declared.pipeline_keys_class() if declared else None
    assert (tuple(a.name for a in attrs.fields(keys_class)) if keys_class else ()) == entry.pipeline_keys


def test_every_plugin_folder_is_in_the_first_party_table():
    folders = {p.parent.name for p in (REPO / "plugins").glob("*/pyproject.toml")}
    assert folders == {e.plugin for e in FIRST_PARTY_PLUGINS}


# -- a pipeline kind from a plugin outside the repository, run by `lakeport run` ----------
ECHO_PLUGIN = '''
import attrs
from lakeport.api import PipelineResult, hookimpl


@attrs.frozen
class EchoOptions:
    message: str
    repeat: int = 1


class EchoRun:
    def __init__(self, project, spec):
        self.spec = spec
        self.said = []

    def execute(self):
        self.said = [self.spec.options.message] * self.spec.options.repeat

    def result(self):
        return PipelineResult(pipeline=self.spec.name, kind=self.spec.kind, summary=[f"echo: {m}" for m in self.said])


def check(spec, tables, where):
    return [f"{where}.repeat: must be at least 1"] if spec.options.repeat < 1 else []


@hookimpl
def lakeport_register_pipeline_kinds(register):
    register("echo", EchoRun, options=EchoOptions, check=check)
'''


@pytest.fixture
def echo_project(tmp_path):
    site = make_distribution(tmp_path / "site", name="lakeport_echo", dist="lakeport-echo", source=ECHO_PLUGIN, ep_name="echo")
    project = tmp_path / "project"
    project.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    def run(toml: str, *args: str) -> subprocess.CompletedProcess[str]:
        (project / "lakeport.toml").write_text(textwrap.dedent(toml))
        return subprocess.run([sys.executable, "-m", "lakeport.cli", *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=120)

    return run


def test_lakeport_run_dispatches_on_a_pipeline_kind_a_plugin_registered(echo_project):
    done = echo_project('[pipelines.hello]\nkind = "echo"\nmessage = "hi there"\nrepeat = 2\n', "run", "hello")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["echo: hi there", "echo: hi there"]
    listed = echo_project("", "plugins")
    assert "pipeline echo" in listed.stdout and "lakeport-echo" in listed.stdout


def test_a_plugin_pipeline_kind_gets_core_errors_for_its_keys(echo_project):
    done = echo_project('[pipelines.hello]\nkind = "echo"\nmesage = "hi"\nrepeat = 0\n', "run", "hello")
    assert done.returncode == 2
    assert ("pipelines.hello: unknown key 'mesage' for pipeline kind 'echo' (did you mean 'message'?); "
            "valid keys: kind, message, repeat") in done.stderr
    done = echo_project('[pipelines.hello]\nkind = "echo"\nmessage = "hi"\nrepeat = 0\n', "run", "hello")
    assert done.returncode == 2
    assert "pipelines.hello.repeat: must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr


# -- what an outside author hits first ----------------------------------------------------
def memory_kind_plugin(options):
    class MemoryKind:
        @hookimpl
        def lakeport_register_handle_kinds(self, register):
            register("memory", lambda project, table: None, options=options)

    return MemoryKind()


def test_a_typo_in_a_common_key_of_a_plugin_table_suggests_the_key_and_lists_both_sets():
    @attrs.frozen
    class MemoryOptions:
        capacity: int = 10

    with pytest.raises(ConfigError) as info:
        project_with('[tables.M]\nkind = "memory"\nshema = "id INT"\n', memory_kind_plugin(MemoryOptions))
    assert info.value.problems == [
        "tables.M: unknown key(s) shema (did you mean 'schema'?); valid keys: capacity (kind 'memory') and "
        "kind, name, path, schema, comment, expectations, expectation_action, quarantine_table, checkpoint_path "
        "(every table's)"
    ]


def test_a_dataclass_options_class_is_refused_naming_the_kind_and_the_fix():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class MemoryOptions:
        capacity: int = 10

    with pytest.raises(Exception, match=r"kind 'memory' options \(plugin '\d+'\): .*MemoryOptions.* is not an attrs "
                       r"class; .* declare it with @attrs.frozen"):
        project_with('[tables.M]\nkind = "memory"\ncapacity = 3\n', memory_kind_plugin(MemoryOptions))


def test_an_options_field_named_like_a_common_key_is_refused():
    @attrs.frozen
    class MemoryOptions:
        path: str | None = None

    with pytest.raises(Exception, match=r"field\(s\) path of .*MemoryOptions are reserved for keys every table has"):
        project_with('[tables.M]\nkind = "memory"\n', memory_kind_plugin(MemoryOptions))
