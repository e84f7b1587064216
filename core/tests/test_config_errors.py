"""Every malformed project file gets one ConfigError naming file, entry and key path."""

from __future__ import annotations

import textwrap

import pytest

from lakeport import ConfigError, Project

BASE = """
[tables.Orders]
kind = "files"
path = "/tmp/orders"
"""

CASES = [
    # (id, toml, expected fragments in the message)
    ("bad-toml", "[tables.Orders\nkind = 'files'", ["invalid TOML", "line 1"]),
    ("unknown-top-level", BASE + "\n[tabels.X]\nkind='files'\n", ["unknown top-level section(s) tabels"]),
    ("unknown-lakeport-key", "[lakeport]\ndefualt_env = 'dev'\n" + BASE, ["lakeport", "unknown key(s) defualt_env", "valid keys: default_env"]),
    ("missing-kind", "[tables.Orders]\npath = '/x'\n", ["tables.Orders.kind", "required key is missing"]),
    ("unknown-kind", "[tables.Orders]\nkind = 'parquetz'\npath='/x'\n", ["tables.Orders.kind", 'unknown kind "parquetz"', "(installed kinds: ", "files"]),
    ("disabled-first-party-kind", "[lakeport]\ndisable = ['queue']\n[tables.Orders]\nkind = 'queue'\n",
     ["tables.Orders.kind", 'kind "queue" is provided by plugin \'queue\' from lakeport-queue (pip install lakeport-queue), which is disabled']),
    ("plugin-section-bad-key", BASE + "[plugins.delta]\nbackend = 'embedded'\njarz = true\n", ["plugins.delta", "unknown key(s) jarz", "valid keys: backend, jars"]),
    ("plugin-section-bad-value", BASE + "[plugins.delta]\nbackend = 'nativ'\n", ["plugins.delta.backend", "expected one of auto, embedded, native", "'nativ'"]),
    ("plugin-section-unknown-plugin", BASE + "[plugins.nope]\nx = 1\n", ["plugins.nope", "no plugin named 'nope' is installed", "installed plugins: ", "delta"]),
    ("plugin-section-no-settings", BASE + "[plugins.queue]\nx = 1\n", ["plugins.queue", "plugin 'queue' takes no settings; unknown key(s) x"]),
    ("lakeport-backend-moved", "[lakeport]\nbackend = 'native'\n" + BASE, ["lakeport.backend", "[plugins.delta] backend = 'native'"]),
    ("pipeline-unknown-key", BASE + "[pipelines.p]\nsource='Orders'\ntarget='Orders'\nmdoe='append'\n", ["pipelines.p", "unknown key 'mdoe' for pipeline kind 'etl'", "valid keys: kind, ", "mode"]),
    ("pipeline-unknown-kind", "[pipelines.p]\nkind = 'dtl'\n", ["pipelines.p.kind", 'unknown kind "dtl" (installed kinds: dlt, etl)']),
    ("disabled-pipeline-kind", "[lakeport]\ndisable = ['dlt']\n[pipelines.p]\nkind = 'dlt'\n",
     ["pipelines.p.kind", 'kind "dlt" is provided by plugin \'dlt\' from lakeport-dlt (pip install lakeport-dlt), which is disabled']),
    ("name-not-string", "[tables.Orders]\nkind = 'files'\npath='/x'\nname = 5\n", ["tables.Orders.name", "expected a string, got int 5"]),
    ("bad-action", BASE + "[[tables.Orders.expectations]]\nname='a'\nconstraint='x > 0'\naction='allow'\n[[tables.Orders.expectations]]\nname='b'\nconstraint='x > 0'\naction='dorp'\n",
     ["tables.Orders.expectations[1].action", "expected one of allow, drop, fail, quarantine", "'dorp'"]),
    ("expectation-missing-constraint", BASE + "[[tables.Orders.expectations]]\nname='a'\n", ["tables.Orders.expectations[0].constraint", "required key is missing"]),
    ("expectation-extra-key", BASE + "[[tables.Orders.expectations]]\nname='a'\nconstraint='x>0'\nseverity='high'\n", ["tables.Orders.expectations[0]", "unknown key(s) severity"]),
    ("kind-option-unknown", BASE + "formatt = 'json'\n", ["tables.Orders", "unknown key(s) formatt", "valid keys: format"]),
    ("kind-option-bad-enum", BASE + "format = 'xlsx'\n", ["tables.Orders.format", "expected one of parquet, json, csv, orc, text", "'xlsx'"]),
    ("kind-option-bad-int", BASE + "max_files_per_trigger = 'many'\n", ["tables.Orders.max_files_per_trigger", "expected an integer"]),
    ("kind-option-bool-for-int", BASE + "max_files_per_trigger = true\n", ["tables.Orders.max_files_per_trigger", "expected an integer, got boolean"]),
    ("pipeline-unknown-source", BASE + "[pipelines.p]\nsource='Nope'\ntarget='Orders'\n", ["pipelines.p.source", "unknown table 'Nope'", "tables: Orders"]),
    ("pipeline-bad-mode", BASE + "[pipelines.p]\nsource='Orders'\ntarget='Orders'\nmode='merge'\n", ["pipelines.p.mode", "expected one of append, overwrite, upsert"]),
    ("pipeline-upsert-without-keys", BASE + "[pipelines.p]\nsource='Orders'\ntarget='Orders'\nmode='upsert'\n", ["pipelines.p.keys", "needs keys"]),
    ("pipeline-bad-trigger", BASE + "[pipelines.p]\nsource='Orders'\ntarget='Orders'\ntrigger='sometimes'\n", ["pipelines.p.trigger", "expected one of available_now, once, processing_time"]),
    ("pipeline-missing-target", BASE + "[pipelines.p]\nsource='Orders'\n", ["pipelines.p.target", "required key is missing"]),
    ("unknown-var", "[env.dev.vars]\nroot='/r'\n[tables.Orders]\nkind='files'\npath='{rot}/orders'\n", ["tables.Orders.path", "unknown reference {rot}", "vars: project_dir, root"]),
    ("unknown-table-ref", BASE + "[tables.B]\nkind='files'\npath='{Ordrs.path}_b'\n", ["tables.B.path", "unknown reference {Ordrs.path}", "no table 'Ordrs'"]),
    ("unknown-table-prop", BASE + "[tables.B]\nkind='files'\npath='{Orders.paht}_b'\n", ["tables.B.path", "table 'Orders' has no property 'paht'", "it has: kind, path"]),
    ("ref-to-missing-name", BASE + "[tables.B]\nkind='files'\npath='/b'\nname='{Orders}_copy'\n", ["tables.B.name", "table 'Orders' has no name"]),
    ("reference-loop", "[tables.A]\nkind='files'\npath='{B.path}'\n[tables.B]\nkind='files'\npath='{A.path}'\n", ["reference loop", "tables.A.path -> tables.B.path -> tables.A.path"]),
    ("var-loop", "[env.dev.vars]\na='{b}'\nb='{a}'\n" + BASE, ["reference loop", "env.dev.vars.a -> env.dev.vars.b -> env.dev.vars.a"]),
    ("missing-env-var", BASE + "[tables.S]\nkind='files'\npath='${env:LAKEPORT_TEST_NOT_SET}'\n", ["tables.S.path", "environment variable LAKEPORT_TEST_NOT_SET is not set"]),
    ("unknown-env", "[lakeport]\ndefault_env='prod'\n[env.dev.vars]\nx='1'\n" + BASE, ["env 'prod' is not defined", "defined: dev"]),
    ("env-extra-key", "[env.dev]\nvariables = {x = '1'}\n" + BASE, ["env.dev", "unknown key(s) variables", "valid keys: vars"]),
    ("table-not-a-table", "tables = { Orders = 'files' }\n", ["tables.Orders", "expected a table"]),
    ("disable-not-list", "[lakeport]\ndisable = 3\n" + BASE, ["lakeport.disable", "expected a list of strings"]),
    ("files-without-path", "[tables.Orders]\nkind = 'files'\n", ["tables.Orders.path", 'kind "files" needs a path']),
]


@pytest.mark.parametrize("text,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_project_file_names_the_key_path(tmp_path, monkeypatch, text, fragments):
    monkeypatch.delenv("LAKEPORT_TEST_NOT_SET", raising=False)
    project_file = tmp_path / "lakeport.toml"
    project_file.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        project = Project.from_file(project_file)
        for name in project.config.tables:  # kind checks that need the handle itself
            project.handle(name)
    message = str(info.value)
    assert message.startswith(str(project_file)), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_several_problems_are_reported_together(tmp_path):
    project_file = tmp_path / "lakeport.toml"
    project_file.write_text(
        "[tables.A]\nkind='files'\npath='/a'\nformat='xls'\n[tables.B]\nkind='nope'\n[pipelines.p]\nsource='A'\ntarget='C'\n"
    )
    with pytest.raises(ConfigError) as info:
        Project.from_file(project_file)
    message = str(info.value)
    assert "problems" in message
    assert "pipelines.p.target" in message
    assert len(info.value.problems) >= 2


def test_missing_project_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="project file not found"):
        Project.from_file(tmp_path / "nope.toml")


def test_case_count_meets_the_bar():
    assert len({c[0] for c in CASES}) >= 15
