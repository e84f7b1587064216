"""What a stream reports when files do not fit its schema."""

from __future__ import annotations

from lakeport.api import LakeportError, SchemaMismatch


class NewColumnsError(SchemaMismatch):
    """A file has columns the stream's schema lacks (``addNewColumns``: they were added to the stored schema)."""

    def __init__(self, path: str, columns: list[str], *, evolved_to: str | None) -> None:
        self.path, self.columns, self.evolved_to = path, columns, evolved_to
        names = ", ".join(columns)
        if evolved_to:
            message = (f"[UNKNOWN_FIELD_EXCEPTION.NEW_FIELDS_IN_FILE] Encountered unknown fields during parsing: "
                       f"[{names}] in file {path}. They were added to the stream's schema ({evolved_to}); "
                       "restart the stream to read them")
        else:
            message = (f"[UNKNOWN_FIELD_EXCEPTION.NEW_FIELDS_IN_FILE] Encountered unknown fields during parsing: "
                       f"[{names}] in file {path}; cloudFiles.schemaEvolutionMode is failOnNewColumns: update the "
                       "schema or choose another evolution mode")
        super().__init__(message)


class MalformedRecordError(LakeportError):
    """A record could not be parsed and there is no rescued-data column to keep it."""

    def __init__(self, path: str, line: int, text: str) -> None:
        self.path, self.line = path, line
        super().__init__(f"malformed record in {path} at line {line}: {text[:200]!r}; to keep such records set "
                         "option rescuedDataColumn (or let Auto Loader infer the schema) and mode PERMISSIVE")


class SchemaInferenceError(LakeportError):
    """No schema could be inferred (no files yet, or no schema location to keep it)."""


class CorruptFileError(LakeportError):
    """A file that cannot be read at all (truncated parquet, not Avro, ...)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot read {path}: {reason}; set option ignoreCorruptFiles=true to skip such files")
