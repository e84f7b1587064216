"""``merge_schema = true`` on a delta table: every append may add the data's new columns."""

from __future__ import annotations

import pytest

from lakeport.api import SchemaMismatch


@pytest.mark.parametrize("merge", [True, False])
def test_merge_schema_table_key(spark, lakeport_project, merge):
    project = lakeport_project(f'''
        [tables.T]
        kind = "delta"
        path = "{{project_dir}}/t"
        backend = "embedded"
        merge_schema = {"true" if merge else "false"}
    ''')
    table = project.handle("T")
    table.append(spark.createDataFrame([(1,)], "id BIGINT"))
    wider = spark.createDataFrame([(2, "x")], "id BIGINT, extra STRING")
    if not merge:
        with pytest.raises(SchemaMismatch, match="columns not in the table: extra"):
            table.append(wider)
        return
    table.append(wider)
    assert sorted(tuple(r) for r in table.read().collect()) == [(1, None), (2, "x")]
