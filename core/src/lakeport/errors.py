"""Every error lakeport raises on purpose derives from :class:`LakeportError`.

Messages name the thing at fault (file, table, key, option, operation) so a
user can fix it without reading a traceback.
"""

from __future__ import annotations


class LakeportError(Exception):
    """Base class of the errors lakeport raises deliberately."""


class ConfigError(LakeportError):
    """Bad configuration. ``problems`` holds one line per problem found."""

    def __init__(self, problems: list[str] | str, *, source: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = prefix + self.problems[0]
        else:
            message = f"{prefix}{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


class PluginError(LakeportError):
    """A plugin could not be loaded or registered something inconsistent."""


class UnsupportedOperation(LakeportError):
    """A handle kind cannot do what was asked of it."""

    def __init__(self, kind: str, table: str, operation: str, hint: str = "") -> None:
        self.kind, self.table, self.operation = kind, table, operation
        message = f"{kind} table {table!r} does not support {operation}()"
        super().__init__(message + (f": {hint}" if hint else ""))


class TableNotFound(LakeportError):
    """The table a handle points at does not exist (yet)."""


class SchemaMismatch(LakeportError):
    """Data written to a table does not match the table's schema."""


class UnsupportedTableFeature(LakeportError):
    """The table uses a feature this backend cannot read or write safely."""


class WriteConflict(LakeportError):
    """A concurrent writer committed first; nothing of this write was committed."""


class ExpectationFailed(LakeportError):
    """A data-quality rule with action ``fail`` saw failing rows; nothing was committed."""

    def __init__(self, table: str, rule: str, failing_rows: int | None, samples: list | None = None) -> None:
        self.table, self.rule, self.failing_rows = table, rule, failing_rows
        self.samples = samples or []
        count = "some" if failing_rows is None else str(failing_rows)
        message = f"expectation {rule!r} on table {table!r} failed for {count} row(s)"
        if self.samples:
            message += "; e.g. " + "; ".join(str(s) for s in self.samples[:5])
        super().__init__(message + "; nothing was written")
