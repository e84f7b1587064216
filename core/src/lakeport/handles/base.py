"""The Handle: one named table or stream, whatever its kind.

Subclasses implement the ``_operation`` methods their kind supports; the public
methods call the reader/writer hooks around them, so expectations and audit
plugins apply to every kind alike.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

from lakeport.context import ReadContext, WriteContext, WriteResult
from lakeport.errors import UnsupportedOperation

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from lakeport.plugins import Hooks
    from lakeport.protocols import ProjectView

log = logging.getLogger(__name__)

#: operations a handle may support; ``Handle.supports(op)`` tells which.
OPERATIONS = (
    "read",
    "read_stream",
    "append",
    "overwrite",
    "upsert",
    "delete",
    "truncate",
    "drop",
    "create",
    "exists",
    "schema",
)


class Handle:
    """Read, write and manage one table; the kind decides how."""

    kind: ClassVar[str] = "handle"
    #: writes accept ``txn=(app_id, version)`` and skip a version already committed
    #: (``WriteResult.skipped``); foreachBatch builds exactly-once delivery on it.
    supports_txn: ClassVar[bool] = False

    def __init__(
        self,
        *,
        table: str | None = None,
        schema: StructType | str | None = None,
        expectations: Iterable[Any] = (),
        quarantine_table: str | None = None,
        project: ProjectView | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.table = table or "<unnamed>"
        self.declared_schema = schema
        self.expectations = tuple(expectations)
        self.quarantine_table = quarantine_table
        self.project = project
        self._hooks = hooks

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} table {self.table!r}>"

    # -- context --------------------------------------------------------------------
    @property
    def hooks(self) -> Hooks:
        """The project's hooks; a standalone handle loads the installed plugins once."""
        if self._hooks is None:
            if self.project is not None:
                self._hooks = self.project.hooks
            else:
                from lakeport.plugins import Hooks

                self._hooks = Hooks.load()
        return self._hooks

    @property
    def spark(self) -> SparkSession:
        if self.project is not None:
            return self.project.spark()
        from lakeport.session import get_or_create_session

        return get_or_create_session()

    def counts_rule_mask(self, mode: str) -> bool:
        """Whether this handle's ``mode`` writer filters and counts by a rule mask itself.

        Opt-in protocol for kinds whose writer receives the rows in Python
        anyway (Arrow batches in a Python data source, or a table collected on
        the driver). When this returns True, the expectations plugin may, instead of
        filtering and counting with ``DataFrame.observe``, pass
        ``rule_mask=RuleMask(...)`` (:mod:`lakeport.expectations.mask`) among
        the write options. The DataFrame then has every input row plus the
        BIGINT column ``rule_mask.column`` (bit ``i`` set: rule ``i`` failed;
        ``fail`` rules still abort the job in Spark). The writer must call
        ``rule_mask.apply(batch)`` on each batch before writing it (drops the
        column and the rows that hit a drop or quarantine bit) and return the
        summed :class:`~lakeport.expectations.mask.RuleCounts` as
        ``WriteResult.rule_counts``. The default, False, keeps ``observe``.

        .. versionadded:: 0.2
        """
        return False

    def describe(self) -> str:
        """Where the table's data is, in a few words, for ``lakeport validate``; kinds override it."""
        return ""

    def supports(self, operation: str) -> bool:
        """Whether this kind implements ``operation`` (one of :data:`OPERATIONS`)."""
        impl = getattr(type(self), f"_{operation}", None)
        return impl is not None and impl is not getattr(Handle, f"_{operation}", None)

    def unsupported(self, operation: str, hint: str = "") -> UnsupportedOperation:
        return UnsupportedOperation(self.kind, self.table, operation, hint)

    # -- reads ----------------------------------------------------------------------
    def read(self, **options: Any) -> DataFrame:
        context = ReadContext(handle=self, df=self._read(**options), streaming=False)
        self.hooks.after_read(context)
        return context.df

    def read_stream(self, **options: Any) -> DataFrame:
        context = ReadContext(handle=self, df=self._read_stream(**options), streaming=True)
        self.hooks.after_read(context)
        return context.df

    # -- writes ---------------------------------------------------------------------
    def append(self, df: DataFrame, **options: Any) -> WriteResult:
        return self.write(df, "append", **options)

    def overwrite(self, df: DataFrame, **options: Any) -> WriteResult:
        return self.write(df, "overwrite", **options)

    def upsert(self, df: DataFrame, keys: Iterable[str] | str, **options: Any) -> WriteResult:
        keys = (keys,) if isinstance(keys, str) else tuple(keys)
        if not keys:
            raise ValueError(f"upsert into {self.table!r} needs at least one key column")
        return self.write(df, "upsert", keys=keys, **options)

    def write(
        self, df: DataFrame, mode: str, *, keys: Iterable[str] = (), batch_id: int | None = None, **options: Any
    ) -> WriteResult:
        """Write ``df`` with ``mode`` through the writer hooks."""
        if mode not in ("append", "overwrite", "upsert"):
            raise ValueError(f"write mode must be append, overwrite or upsert; got {mode!r}")
        if not self.supports(mode):
            raise self.unsupported(mode)
        if getattr(df, "isStreaming", False):
            raise ValueError(
                f"{self.table!r}: cannot {mode} a streaming DataFrame directly; "
                "use lakeport_foreachbatch.StreamLoader (pip install lakeport-foreachbatch)"
            )
        context = WriteContext(handle=self, df=df, mode=mode, keys=tuple(keys), options=dict(options), batch_id=batch_id)
        self.hooks.before_write(context)
        try:
            if mode == "upsert":
                result = self._upsert(context.df, context.keys, **context.options)
            else:
                result = getattr(self, f"_{mode}")(context.df, **context.options)
        except Exception as exc:
            for callback in context.on_failure_callbacks:
                callback(exc)
            raise
        if result is None:
            result = WriteResult(table=self.table, kind=self.kind, mode=mode)
        for after_commit in context.after_commit_callbacks:
            after_commit(result)
        self.hooks.after_write(context, result)
        return result

    # -- management -----------------------------------------------------------------
    def delete(self, where: str, **options: Any) -> WriteResult | None:
        return self._delete(where, **options)

    def truncate(self) -> None:
        self._truncate()

    def drop(self) -> None:
        self._drop()

    def create(self) -> None:
        self._create()

    def exists(self) -> bool:
        return self._exists()

    @property
    def schema(self) -> StructType:
        """The table's schema: stored if the table exists, else the declared one."""
        return self._schema()

    def declared_struct(self) -> StructType | None:
        """The declared schema as a StructType (DDL strings parsed)."""
        from lakeport.schema import to_struct

        return to_struct(self.declared_schema)

    # -- what kinds implement -------------------------------------------------------
    def _read(self, **options: Any) -> DataFrame:
        raise self.unsupported("read")

    def _read_stream(self, **options: Any) -> DataFrame:
        raise self.unsupported("read_stream")

    def _append(self, df: DataFrame, **options: Any) -> WriteResult | None:
        raise self.unsupported("append")

    def _overwrite(self, df: DataFrame, **options: Any) -> WriteResult | None:
        raise self.unsupported("overwrite")

    def _upsert(self, df: DataFrame, keys: tuple[str, ...], **options: Any) -> WriteResult | None:
        raise self.unsupported("upsert")

    def _delete(self, where: str, **options: Any) -> WriteResult | None:
        raise self.unsupported("delete")

    def _truncate(self) -> None:
        raise self.unsupported("truncate")

    def _drop(self) -> None:
        raise self.unsupported("drop")

    def _create(self) -> None:
        raise self.unsupported("create")

    def _exists(self) -> bool:
        raise self.unsupported("exists")

    def _schema(self) -> StructType:
        declared = self.declared_struct()
        if declared is None:
            raise self.unsupported("schema", "declare `schema = \"...\"` on the table")
        return declared


def common_handle_kwargs(project: ProjectView, table: str) -> dict[str, Any]:
    """The constructor arguments every kind takes from a table's common keys."""
    from lakeport.expectations import expectations_from_spec

    spec = project.table(table)
    return {
        "table": table,
        "schema": spec.schema,
        "expectations": expectations_from_spec(spec),
        "quarantine_table": spec.quarantine_table,
        "project": project,
    }
