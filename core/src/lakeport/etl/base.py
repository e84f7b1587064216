"""spetlr's ETL shapes: steps pass a dict of datasets keyed by name."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lakeport.errors import LakeportError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakeport.context import WriteResult
    from lakeport.handles.base import Handle
    from lakeport.results import PipelineResult

log = logging.getLogger(__name__)

Datasets = dict[str, Any]


class EtlError(LakeportError):
    """An ETL step was wired wrongly (e.g. a dataset key nobody produced)."""


def _keys(keys: str | Iterable[str] | None) -> list[str] | None:
    if keys is None:
        return None
    return [keys] if isinstance(keys, str) else list(keys)


class EtlBase:
    """A step: takes the datasets so far, returns them updated."""

    def etl(self, inputs: Datasets) -> Datasets:
        raise NotImplementedError

    def _select(self, inputs: Datasets, keys: list[str] | None) -> Datasets:
        if keys is None:
            if not inputs:
                raise EtlError(f"{type(self).__name__}: no datasets to work on; add an extractor first")
            return dict(inputs)
        missing = [k for k in keys if k not in inputs]
        if missing:
            available = ", ".join(inputs) or "none"
            raise EtlError(f"{type(self).__name__}: dataset key(s) {', '.join(missing)} not found (available: {available})")
        return {k: inputs[k] for k in keys}


class Extractor(EtlBase):
    """Reads one dataset and stores it under ``dataset_key``."""

    def __init__(self, dataset_key: str | None = None) -> None:
        self.dataset_key = dataset_key or f"{type(self).__name__}-{uuid.uuid4().hex[:8]}"

    def read(self) -> DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must implement read()")

    def etl(self, inputs: Datasets) -> Datasets:
        inputs[self.dataset_key] = self.read()
        return inputs


class Transformer(EtlBase):
    """``process(df)`` for one input dataset, ``process_many(datasets)`` for several."""

    def __init__(
        self,
        dataset_input_keys: str | Iterable[str] | None = None,
        dataset_output_key: str | None = None,
        consume_inputs: bool = True,
    ) -> None:
        self.dataset_input_keys = _keys(dataset_input_keys)
        self.dataset_output_key = dataset_output_key or f"{type(self).__name__}-{uuid.uuid4().hex[:8]}"
        self.consume_inputs = consume_inputs

    def process(self, df: DataFrame) -> DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must implement process(df)")

    def process_many(self, datasets: Datasets) -> DataFrame:
        raise NotImplementedError(f"{type(self).__name__} received {len(datasets)} datasets; implement process_many")

    def etl(self, inputs: Datasets) -> Datasets:
        selected = self._select(inputs, self.dataset_input_keys)
        result = self.process(next(iter(selected.values()))) if len(selected) == 1 else self.process_many(selected)
        if self.consume_inputs:
            for key in selected:
                inputs.pop(key, None)
        inputs[self.dataset_output_key] = result
        return inputs


class FunctionTransformer(Transformer):
    """A Transformer around a plain ``DataFrame -> DataFrame`` function."""

    def __init__(self, function: Callable[[DataFrame], DataFrame], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function = function

    def process(self, df: DataFrame) -> DataFrame:
        return self.function(df)


class Loader(EtlBase):
    """``save(df)`` for one dataset, ``save_many(datasets)`` for several; datasets pass through."""

    def __init__(self, dataset_input_keys: str | Iterable[str] | None = None) -> None:
        self.dataset_input_keys = _keys(dataset_input_keys)
        #: the handle writes this loader made; a pipeline's result lists them.
        self.results: list[WriteResult] = []

    def summary_lines(self) -> list[str]:
        """What ``lakeport run`` prints for this loader: a line per write by default."""
        from lakeport.results import describe_write

        return [describe_write(result) for result in self.results]

    def save(self, df: DataFrame) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement save(df)")

    def save_many(self, datasets: Datasets) -> Any:
        raise NotImplementedError(f"{type(self).__name__} received {len(datasets)} datasets; implement save_many")

    def etl(self, inputs: Datasets) -> Datasets:
        selected = self._select(inputs, self.dataset_input_keys)
        if len(selected) == 1:
            self.save(next(iter(selected.values())))
        else:
            self.save_many(selected)
        return inputs


class SimpleExtractor(Extractor):
    """Batch-reads a handle."""

    def __init__(self, handle: Handle, dataset_key: str | None = None, **read_options: Any) -> None:
        super().__init__(dataset_key or handle.table)
        self.handle = handle
        self.read_options = read_options

    def read(self) -> DataFrame:
        return self.handle.read(**self.read_options)


class StreamExtractor(Extractor):
    """Reads a handle as a stream; load it with a StreamLoader."""

    def __init__(self, handle: Handle, dataset_key: str | None = None, **read_options: Any) -> None:
        super().__init__(dataset_key or handle.table)
        self.handle = handle
        self.read_options = read_options

    def read(self) -> DataFrame:
        return self.handle.read_stream(**self.read_options)


class SimpleLoader(Loader):
    """Writes to a handle with ``mode`` append, overwrite or upsert (with ``keys``)."""

    MODES = ("append", "overwrite", "upsert")

    def __init__(
        self,
        handle: Handle,
        mode: str = "append",
        keys: str | Iterable[str] | None = None,
        dataset_input_keys: str | Iterable[str] | None = None,
        **write_options: Any,
    ) -> None:
        super().__init__(dataset_input_keys)
        if mode not in self.MODES:
            raise ValueError(f"SimpleLoader mode must be one of {', '.join(self.MODES)}; got {mode!r}")
        self.keys = tuple(_keys(keys) or ())
        if mode == "upsert" and not self.keys:
            raise ValueError(f"SimpleLoader(mode='upsert') into {handle.table!r} needs keys=[...]")
        self.handle = handle
        self.mode = mode
        self.write_options = write_options

    def save(self, df: DataFrame, **options: Any) -> WriteResult:
        result = self.handle.write(df, self.mode, keys=self.keys, **{**self.write_options, **options})
        self.results.append(result)
        return result


class Orchestrator(EtlBase):
    """Runs its steps in order: ``extract_from(...).transform_with(...).load_into(...).execute()``."""

    def __init__(self, name: str | None = None, kind: str = "etl") -> None:
        self.steps: list[EtlBase] = []
        #: the ``[pipelines.<name>]`` entry it was built from, if any.
        self.name = name
        self.kind = kind

    def step(self, step: EtlBase) -> Orchestrator:
        if not isinstance(step, EtlBase):
            raise TypeError(f"an Orchestrator step must be an Extractor, Transformer or Loader; got {step!r}")
        self.steps.append(step)
        return self

    extract_from = step
    transform_with = step
    load_into = step

    def etl(self, inputs: Datasets) -> Datasets:
        for step in self.steps:
            inputs = step.etl(inputs)
        return inputs

    def execute(self, inputs: Datasets | None = None) -> Datasets:
        return self.etl(dict(inputs or {}))

    def result(self) -> PipelineResult:
        """What the loaders did so far (also after an interrupted ``execute``)."""
        from lakeport.results import PipelineResult

        result = PipelineResult(pipeline=self.name or "orchestrator", kind=self.kind)
        for step in self.steps:
            if isinstance(step, Loader):
                result.writes.extend(step.results)
                result.summary.extend(step.summary_lines())
        return result
