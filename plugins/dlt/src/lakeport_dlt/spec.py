"""The keys of a ``[pipelines.<name>]`` entry of kind ``dlt``: dltflow's vocabulary, corrected.

Structured by core's converter, so every key gets a key-path error; the checks
that need the whole graph are in :mod:`lakeport_dlt.graph`.
"""

from __future__ import annotations

import enum
from typing import Mapping

import attrs

from lakeport_dlt.deploy.settings import DeploySettings


class DatasetKind(str, enum.Enum):
    #: ``@dlt.table`` over a batch query: recomputed on every update (a materialized view).
    TABLE = "table"
    MATERIALIZED_VIEW = "materialized_view"
    #: not persisted; read by the datasets that name it.
    VIEW = "view"
    #: fed incrementally from a streaming query (or by flows: ``append_flow``, ``apply_changes``).
    STREAMING_TABLE = "streaming_table"


class DltAction(str, enum.Enum):
    """DLT's expectation actions (no quarantine in DLT)."""

    ALLOW = "allow"
    DROP = "drop"
    FAIL = "fail"


@attrs.frozen
class DltExpectation:
    name: str
    constraint: str
    #: the dataset's ``expectation_action`` when unset.
    action: DltAction | None = None


@attrs.frozen
class AppendFlow:
    """The dataset's query is appended, as flow ``name``, to streaming table ``target``."""

    target: str
    name: str | None = None
    comment: str | None = None
    #: a one-time backfill flow (``append_flow(once=True)``).
    once: bool = False


@attrs.frozen
class ApplyChanges:
    """The dataset's query is a change feed applied to streaming table ``target`` (DLT's AUTO CDC)."""

    target: str
    keys: tuple[str, ...]
    sequence_by: str
    stored_as_scd_type: int = 1
    ignore_null_updates: bool = False
    #: SQL conditions on a change row, e.g. ``"operation = 'DELETE'"`` (not booleans).
    apply_as_deletes: str | None = None
    apply_as_truncates: str | None = None
    column_list: tuple[str, ...] = ()
    except_column_list: tuple[str, ...] = ()
    track_history_column_list: tuple[str, ...] = ()
    track_history_except_column_list: tuple[str, ...] = ()


@attrs.frozen
class Dataset:
    """One ``[[pipelines.<name>.datasets]]`` entry."""

    name: str
    kind: DatasetKind = DatasetKind.TABLE
    #: the function (or method of ``object``) computing it; called with one DataFrame per source.
    func: str | None = None
    #: lakeport tables (any kind) or other datasets, read in this order.
    source: tuple[str, ...] = ()
    #: a view read as a stream (views are batch by default).
    streaming: bool = False
    comment: str | None = None
    expectation_action: DltAction = DltAction.ALLOW
    expectations: tuple[DltExpectation, ...] = ()
    append_flow: AppendFlow | None = None
    apply_changes: ApplyChanges | None = None
    partition_cols: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    table_properties: Mapping[str, str] = attrs.field(factory=dict)
    path: str | None = None
    spark_conf: Mapping[str, str] = attrs.field(factory=dict)
    #: declared schema (DDL) of the persisted table.
    schema: str | None = None


@attrs.frozen
class DltPipeline:
    """``kind = "dlt"``: the datasets, the user code that computes them, and where they land."""

    datasets: tuple[Dataset, ...]
    #: a Python file, relative to the project file ...
    code: str | None = None
    #: ... or an importable module.
    module: str | None = None
    #: optional plain class built with ``(spark, project)`` whose methods ``func`` names.
    object: str | None = None
    catalog: str | None = None
    target_schema: str | None = None
    #: pipeline settings readable with ``spark.conf.get`` in the code.
    configuration: Mapping[str, str] = attrs.field(factory=dict)
    #: where and how it runs on Databricks (``lakeport dlt deploy``), per environment.
    deploy: DeploySettings | None = None
