"""The rule-mask protocol: a handle whose writer sees the rows counts and filters them itself."""

from __future__ import annotations

import pytest

from lakeport import LakeportError
from lakeport.expectations import Expectation
from lakeport.expectations.mask import MASK_COLUMN, RuleCounts, RuleMask
from lakeport.handles.files import FilesHandle

SCHEMA = "id BIGINT, name STRING, age INT"
ROWS = [(1, "ada", 36), (2, "bob", 17), (3, None, 50), (4, "eve", None)]
RULES = (Expectation("adult", "age >= 18", "quarantine"), Expectation("named", "name IS NOT NULL", "drop"),
         Expectation("short", "length(name) < 3", "allow"))


def test_apply_counts_bits_and_filters_drop_and_quarantine_rows():
    import pyarrow as pa

    mask = RuleMask("m", 3, drop_bits=0b010, quarantine_bits=0b001)
    batch = pa.record_batch({"id": [1, 2, 3, 4, 5], "m": pa.array([0, 0b101, 0b110, 0b011, 0b100], pa.int64())})
    kept, counts = mask.apply(batch)
    assert kept.to_pydict() == {"id": [1, 5]}  # bit 2 (allow) keeps row 5
    # row 4 fails a drop and a quarantine rule: quarantined, not dropped
    assert counts == RuleCounts(rows_in=5, failed=(2, 2, 3), rows_dropped=1, rows_quarantined=2)
    assert counts + RuleCounts(rows_in=1, failed=(1,)) == RuleCounts(6, (3, 2, 3), 1, 2)


def test_a_mask_has_at_most_62_rules():
    with pytest.raises(ValueError, match="'rules' must be <= 62"):
        RuleMask("m", 63)


class ArrowFilesHandle(FilesHandle):
    """A minimal opt-in: appends collect the rows as Arrow on the driver, apply the mask, write the rest."""

    def __init__(self, *args, report=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = report

    def counts_rule_mask(self, mode):
        return mode == "append"

    def _append(self, df, rule_mask=None, **options):
        assert rule_mask is not None and MASK_COLUMN in df.columns
        table, counts = rule_mask.apply(df.toArrow())
        result = super()._append(df.sparkSession.createDataFrame(table), **options)
        result.rule_counts = counts if self.report else None
        return result


def test_a_handle_that_opts_in_reports_the_counts(tmp_lake, spark):
    quarantine = FilesHandle(str(tmp_lake / "q"), table="q")
    target = ArrowFilesHandle(str(tmp_lake / "t"), table="t", expectations=RULES, quarantine_table=quarantine)
    result = target.append(spark.createDataFrame(ROWS, SCHEMA))
    assert sorted(tuple(r) for r in target.read().collect()) == [(1, "ada", 36)]
    got = result.expectations
    assert {r.name: r.failed for r in got.rules} == {"adult": 2, "named": 1, "short": 4}
    assert (got.rows_in, got.rows_quarantined, got.rows_dropped) == (4, 2, 1)
    assert sorted(r["id"] for r in quarantine.read().collect()) == [2, 4]
    # the same rows and rules through observe
    plain = FilesHandle(str(tmp_lake / "o"), table="t", expectations=RULES, quarantine_table=quarantine)
    assert plain.append(spark.createDataFrame(ROWS, SCHEMA)).expectations.as_dict() == got.as_dict()


def test_a_handle_that_opts_in_but_reports_nothing_is_an_error(tmp_lake, spark):
    target = ArrowFilesHandle(str(tmp_lake / "t"), table="t", expectations=RULES[1:], report=False)
    with pytest.raises(LakeportError, match="t: the write was given a rule mask but its handle reported no rule counts"):
        target.append(spark.createDataFrame(ROWS, SCHEMA))


@pytest.mark.parametrize("kind", [FilesHandle, ArrowFilesHandle], ids=["observe", "rule-mask"])
def test_constraints_keep_their_comments_and_quotes(tmp_lake, spark, kind):
    """Rules are assembled into SQL text: a trailing comment or a quote in one must not leak into the others."""
    rules = [
        Expectation("adult", "age >= 18 -- grown-ups only", "drop"),
        Expectation("known", "coalesce(name, '') NOT IN ('it''s', 'x\\'y')", "fail"),
        Expectation("named", "name IS NOT NULL", "allow"),
    ]
    target = kind(str(tmp_lake / "t"), table="t", expectations=rules)
    result = target.append(spark.createDataFrame(ROWS, SCHEMA))
    assert {r.name: r.failed for r in result.expectations.rules} == {"adult": 2, "known": 0, "named": 1}
    assert sorted(r["id"] for r in target.read().collect()) == [1, 3]
