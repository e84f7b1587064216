"""A dlt pipeline is checked when the project loads: every malformed definition is one error with its key path."""

from __future__ import annotations

import textwrap

import pytest

from lakeport import ConfigError, Project

TABLES = """
[tables.people_queue]
kind = "files"
path = "/tmp/people"
"""

SEED = TABLES + """
[pipelines.people]
kind = "dlt"
code = "streaming_append.py"
target_schema = "queue_example"

[[pipelines.people.datasets]]
func = "transform"
kind = "streaming_table"
name = "people_clean"
source = "people_queue"
expectation_action = "drop"
expectations = [{ name = "check_age", constraint = "age between 25 and 45" }]
append_flow = { target = "people", name = "queue_example", comment = "people from the queue" }
"""


def load(text: str) -> Project:
    return Project.from_toml(textwrap.dedent(text), source="lakeport.toml")


def test_the_seed_definition_loads_into_typed_datasets():
    from lakeport_dlt.spec import DatasetKind, DltAction

    spec = load(SEED).pipeline_spec("people")
    assert spec.kind == "dlt"
    (dataset,) = spec.options.datasets
    assert dataset.kind is DatasetKind.STREAMING_TABLE and dataset.source == ("people_queue",)
    assert dataset.expectation_action is DltAction.DROP
    assert dataset.append_flow.target == "people" and dataset.append_flow.name == "queue_example"


def dataset(**keys: str) -> str:
    body = "\n".join(f"{k} = {v}" for k, v in keys.items())
    return f"\n[[pipelines.p.datasets]]\n{body}\n"


HEAD = TABLES + '\n[pipelines.p]\nkind = "dlt"\nmodule = "jobs"\n'
A = dataset(name='"a"', func='"f"', source='"people_queue"')

CASES = [
    ("no-code", TABLES + '[pipelines.p]\nkind = "dlt"\n' + A,
     ['pipelines.p: name the pipeline\'s code with exactly one of code = "file.py" or module = "pkg.mod"']),
    ("both-code-and-module", TABLES + '[pipelines.p]\nkind = "dlt"\ncode = "x.py"\nmodule = "x"\n' + A,
     ["pipelines.p: name the pipeline's code with exactly one of"]),
    ("no-datasets", HEAD, ["pipelines.p.datasets: required key is missing"]),
    ("missing-source", HEAD + dataset(name='"a"', func='"f"', source='"nope"'),
     ["pipelines.p.datasets[0].source: unknown source 'nope' (datasets: a; tables: people_queue)"]),
    ("duplicate-name", HEAD + A + A, ["pipelines.p.datasets[1].name: dataset 'a' is defined twice in pipeline 'p'"]),
    ("cycle", HEAD + dataset(name='"a"', func='"f"', source='"b"') + dataset(name='"b"', func='"g"', source='"a"'),
     ["pipelines.p.datasets: a cycle: a -> b -> a"]),
    ("batch-into-streaming", HEAD + dataset(name='"mv"', kind='"materialized_view"', func='"f"', source='"people_queue"')
     + dataset(name='"st"', kind='"streaming_table"', func='"g"', source='"mv"'),
     ["pipelines.p.datasets[1].source: a streaming query cannot read materialized_view 'mv'"]),
    ("flow-and-cdc", HEAD + dataset(name='"a"', func='"f"', source='"people_queue"', append_flow='{ target = "t" }',
                                    apply_changes='{ target = "u", keys = ["id"], sequence_by = "ts" }'),
     ["pipelines.p.datasets[0]: a dataset is either an append_flow or an apply_changes flow, not both"]),
    ("unknown-dataset-key", HEAD + dataset(name='"a"', func='"f"', source='"people_queue"', expectation='"x"'),
     ["pipelines.p.datasets[0]: unknown key(s) expectation; valid keys: name, kind"]),
    ("unknown-pipeline-key", HEAD.replace('module = "jobs"', 'module = "jobs"\ntarget_shema = "x"') + A,
     ["pipelines.p: unknown key 'target_shema' for pipeline kind 'dlt' (did you mean 'target_schema'?)"]),
    ("bad-dataset-kind", HEAD + dataset(name='"a"', func='"f"', kind='"stream"', source='"people_queue"'),
     ["pipelines.p.datasets[0].kind: expected one of table, materialized_view, view, streaming_table; got 'stream'"]),
    ("quarantine-is-not-dlt", HEAD + dataset(name='"a"', func='"f"', source='"people_queue"', expectation_action='"quarantine"'),
     ["pipelines.p.datasets[0].expectation_action: expected one of allow, drop, fail; got 'quarantine'"]),
    ("missing-func", HEAD + dataset(name='"a"', source='"people_queue"'),
     ["pipelines.p.datasets[0].func: required: the function that computes 'a'"]),
    ("scd-type-3", HEAD + dataset(name='"c"', func='"f"', source='"people_queue"',
                                  apply_changes='{ target = "t", keys = ["id"], sequence_by = "ts", stored_as_scd_type = 3 }'),
     ["pipelines.p.datasets[0].apply_changes.stored_as_scd_type: expected 1 or 2; got 3"]),
    ("cdc-without-keys", HEAD + dataset(name='"c"', func='"f"', source='"people_queue"',
                                        apply_changes='{ target = "t", keys = [], sequence_by = "ts" }'),
     ["pipelines.p.datasets[0].apply_changes.keys: needs at least one key column"]),
    ("track-history-on-scd1", HEAD + dataset(name='"c"', func='"f"', source='"people_queue"',
                                             apply_changes='{ target = "t", keys = ["id"], sequence_by = "ts", track_history_column_list = ["x"] }'),
     ["pipelines.p.datasets[0].apply_changes: track_history_* lists need stored_as_scd_type = 2"]),
    ("read-a-flow", HEAD + dataset(name='"f1"', func='"f"', source='"people_queue"', append_flow='{ target = "t" }')
     + dataset(name='"b"', func='"g"', kind='"streaming_table"', source='"f1"'),
     ["pipelines.p.datasets[1].source: 'f1' is an append flow; read its target 't'"]),
    ("flow-into-a-materialized-view", HEAD + dataset(name='"mv"', func='"f"', source='"people_queue"')
     + dataset(name='"f1"', func='"g"', source='"people_queue"', append_flow='{ target = "mv" }'),
     ["pipelines.p.datasets[1].append_flow.target: flows write into a streaming table; 'mv' is a table with a query of its own"]),
    ("apply-as-deletes-boolean", HEAD + dataset(name='"c"', func='"f"', source='"people_queue"',
                                                apply_changes='{ target = "t", keys = ["id"], sequence_by = "ts", apply_as_deletes = true }'),
     ["pipelines.p.datasets[0].apply_changes.apply_as_deletes: expected a string, got boolean True"]),
]


@pytest.mark.parametrize("text,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_malformed_pipeline_is_one_error_naming_its_key_path(text, fragments):
    with pytest.raises(ConfigError) as info:
        load(text)
    message = str(info.value)
    assert message.startswith("lakeport.toml"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_at_least_ten_distinct_malformed_pipelines():
    assert len({c[0] for c in CASES}) >= 10
