"""StreamLoader: spetlr's foreachBatch loader, exactly once where the handle allows it."""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import attrs

from lakeport.api import ConfigError, LakeportError, Loader, SimpleLoader, describe_rule
from lakeport_foreachbatch.checkpoint import CheckpointFiles, claim, describe_sources
from lakeport_foreachbatch.errors import StreamError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

    from lakeport.api import Handle, Project, WriteResult

log = logging.getLogger(__name__)

TRIGGERS = ("available_now", "once", "processing_time")
OUTPUT_MODES = ("append", "update")
_INTERVAL = re.compile(
    r"^\s*(interval\s+)?\d+(\.\d+)?\s*(ms|milliseconds?|s|secs?|seconds?|mins?|minutes?|h|hours?|d|days?)\s*$",
    re.IGNORECASE,
)
#: how long a first Ctrl-C / SIGTERM waits for the running batch before abandoning it.
GRACEFUL_STOP_SECONDS = 60.0


def validate_stream_options(
    *, checkpoint_path: str | None, trigger: str | None, trigger_interval: str | None, output_mode: str, where: str
) -> list[str]:
    """Problems with the options, each naming the option (``where`` prefixes it)."""
    problems = []
    if not checkpoint_path:
        problems.append(f"{where}checkpoint_path: a stream needs a checkpoint_path to resume from")
    if trigger not in TRIGGERS:
        problems.append(f"{where}trigger: expected one of {', '.join(TRIGGERS)}; got {trigger!r}")
    elif trigger == "processing_time":
        if not trigger_interval:
            problems.append(f"{where}trigger_interval: trigger processing_time needs an interval, e.g. \"10 seconds\"")
        elif not _INTERVAL.match(trigger_interval):
            problems.append(f"{where}trigger_interval: {trigger_interval!r} is not an interval like \"10 seconds\"")
    elif trigger_interval:
        problems.append(f"{where}trigger_interval: only used with trigger processing_time (trigger is {trigger})")
    if output_mode not in OUTPUT_MODES:
        problems.append(f"{where}output_mode: expected one of {', '.join(OUTPUT_MODES)}; got {output_mode!r}")
    return problems


@attrs.define
class BatchStats:
    """What one micro-batch did; ``rows_in`` from the write's expectations, else the query's progress."""

    batch_id: int
    seconds: float
    skipped: bool = False
    rows_written: int | None = None
    #: rule name -> rows dropped or quarantined by it (failed rows for allow rules).
    rule_failures: dict[str, int] = attrs.field(factory=dict)
    #: rule name -> its action, to say "dropped by" or "quarantined by".
    rule_actions: dict[str, str] = attrs.field(factory=dict)
    rows_dropped: int = 0
    rows_in: int | None = None
    logged: bool = False


class StreamLoader(Loader):
    """Starts ``df.writeStream.foreachBatch`` and writes each batch through ``loader``.

    With a ``SimpleLoader`` whose handle sets ``supports_txn``, each batch is
    written with ``txn=(app_id, batch_id)``: a batch Spark replays after a crash
    is skipped by the handle, so delivery is exactly-once. Other handles get
    at-least-once delivery, which is said once at start.
    """

    def __init__(
        self,
        loader: Loader,
        checkpoint_path: str | None = None,
        trigger: str = "available_now",
        trigger_interval: str | None = None,
        output_mode: str = "append",
        query_name: str | None = None,
        await_termination: bool = False,
        options: Mapping[str, Any] | None = None,
        source: str | None = None,
        dataset_input_keys: str | Iterable[str] | None = None,
        *,
        _where: str = "StreamLoader ",
    ) -> None:
        super().__init__(dataset_input_keys)
        trigger = getattr(trigger, "value", trigger)
        problems = validate_stream_options(
            checkpoint_path=checkpoint_path, trigger=trigger, trigger_interval=trigger_interval,
            output_mode=output_mode, where=_where,
        )
        if not isinstance(loader, Loader):
            problems.append(f"{_where}loader: expected a Loader such as SimpleLoader(handle, mode); got {loader!r}")
        if problems:
            raise ConfigError(problems)
        self.loader = loader
        #: the batches' writes, as the wrapped loader would have listed them.
        self.results = loader.results
        self.checkpoint_path = str(checkpoint_path)
        self.trigger = trigger
        self.trigger_interval = trigger_interval
        self.output_mode = output_mode
        self.query_name = query_name
        self.await_termination = await_termination
        self.options = dict(options or {})
        self.source = source
        self.query: StreamingQuery | None = None
        self.app_id: str | None = None
        self.batches: list[BatchStats] = []
        self._lock = threading.Lock()
        self._in_batch = threading.Event()
        self._batch_error: BaseException | None = None
        self._listener: Any = None
        self._query_id: str | None = None
        self._started_at: float | None = None
        self._finished_at: float | None = None
        self._stopped = False
        self._exactly_once = False

    @classmethod
    def from_pipeline(cls, project: Project, pipeline: Any, loader: Loader) -> StreamLoader:
        """Built from a ``[pipelines.<name>]`` entry with a ``trigger``; the checkpoint may come from the target table."""
        from lakeport_foreachbatch.settings import StreamKeys

        keys = pipeline.extension(StreamKeys) or StreamKeys()
        options = pipeline.options
        where = f"pipelines.{pipeline.name}."
        checkpoint = keys.checkpoint_path or project.table(options.target).checkpoint_path
        if not checkpoint:
            raise ConfigError(
                f"{where}checkpoint_path: a streaming pipeline needs a checkpoint_path "
                f"(on the pipeline or on table {options.target!r})",
                source=project.source,
            )
        try:
            return cls(
                loader,
                checkpoint_path=checkpoint,
                trigger=getattr(keys.trigger, "value", keys.trigger) or "available_now",
                trigger_interval=keys.trigger_interval,
                query_name=keys.query_name or pipeline.name,
                await_termination=True,
                options=options.options,
                source=options.source,
                _where=where,
            )
        except ConfigError as exc:
            raise ConfigError(exc.problems, source=project.source) from None

    def summary_lines(self) -> list[str]:
        """One line for the run, once its query started."""
        return [self.summary()] if self.query is not None else []

    # -- the handle side ----------------------------------------------------------------
    @property
    def handle(self) -> Handle | None:
        return getattr(self.loader, "handle", None)

    @property
    def exactly_once(self) -> bool:
        """Whether batches are written idempotently (the handle supports ``txn``)."""
        return isinstance(self.loader, SimpleLoader) and bool(getattr(self.loader.handle, "supports_txn", False))

    @property
    def name(self) -> str:
        if self.query_name:
            return self.query_name
        handle = self.handle
        return handle.table if handle is not None else type(self.loader).__name__

    def _target_identity(self) -> str:
        handle = self.handle
        if handle is None:
            return type(self.loader).__qualname__
        return f"{handle.kind}:{getattr(handle, 'path', None) or handle.table}"

    # -- starting -----------------------------------------------------------------------
    def save(self, df: DataFrame) -> StreamingQuery:
        """Start the query (and wait for it when ``await_termination``)."""
        if not getattr(df, "isStreaming", False):
            raise StreamError(
                f"{self.name}: StreamLoader needs a streaming DataFrame; read it with StreamExtractor "
                "(or use SimpleLoader for a batch DataFrame)"
            )
        if self.query is not None and self.query.isActive:
            raise StreamError(f"{self.name}: this StreamLoader's query is still running; stop() it first")
        spark = df.sparkSession
        files = CheckpointFiles(self.checkpoint_path, spark)
        source = describe_sources(df) or self.source
        if files.available:
            record = claim(files, target=self._target_identity(), source=source, query_name=self.query_name)
            self.app_id = record.app_id
            files.remove_crashed_start_leftovers()
        elif self.exactly_once:
            raise StreamError(
                f"checkpoint_path {self.checkpoint_path}: cannot keep lakeport's app id there from this session "
                "(no local JVM); exactly-once needs it"
            )
        self._exactly_once = self.exactly_once
        writer = (
            df.writeStream.foreachBatch(self._process_batch)
            .option("checkpointLocation", self.checkpoint_path)
            .outputMode(self.output_mode)
        )
        if self.options:
            writer = writer.options(**{k: str(v) for k, v in self.options.items()})
        if self.trigger == "available_now":
            writer = writer.trigger(availableNow=True)
        elif self.trigger == "once":
            writer = writer.trigger(once=True)
        else:
            writer = writer.trigger(processingTime=str(self.trigger_interval))
        if self.query_name:
            writer = writer.queryName(self.query_name)
        self.batches = []
        self._query_id = None
        self._batch_error = None
        self._stopped = False
        self._add_listener(spark)
        self._started_at, self._finished_at = time.monotonic(), None
        try:
            self.query = writer.start()
            self._query_id = str(self.query.id)
        except Exception:
            self._remove_listener()
            raise
        guarantee = "exactly-once" if self._exactly_once else "at-least-once"
        log.info(
            "%s: started (trigger %s, checkpoint %s, %s delivery, app id %s)",
            self.name, self.trigger_description, self.checkpoint_path, guarantee, self.app_id,
        )
        if not self._exactly_once:
            log.warning(
                "%s: delivery is at-least-once: %s does not support idempotent writes (txn), so a batch replayed "
                "after a crash is written again",
                self.name, self.handle if self.handle is not None else type(self.loader).__name__,
            )
        if self.await_termination:
            self.wait()
        return self.query

    @property
    def trigger_description(self) -> str:
        return f"processing_time {self.trigger_interval}" if self.trigger == "processing_time" else self.trigger

    # -- one micro-batch ----------------------------------------------------------------
    def _process_batch(self, batch_df: DataFrame, batch_id: int) -> None:
        from lakeport.api import active_session

        self._in_batch.set()
        started = time.monotonic()
        try:
            with active_session(batch_df.sparkSession):
                if isinstance(self.loader, SimpleLoader):
                    result = self._write(batch_df, batch_id)
                else:
                    self.loader.save(batch_df)
                    result = None
        except BaseException as exc:
            self._batch_error = exc
            log.error("%s: batch %d failed: %s", self.name, batch_id, exc)
            raise
        finally:
            self._in_batch.clear()
        stats = _stats(batch_id, time.monotonic() - started, result)
        with self._lock:
            self.batches.append(stats)
            if result is not None:
                self.results.append(result)

    def _write(self, batch_df: DataFrame, batch_id: int) -> WriteResult:
        loader = self.loader
        assert isinstance(loader, SimpleLoader)
        df = batch_df
        if loader.mode == "upsert":
            df = dedupe(df, loader.keys, loader.write_options.get("sequence_by"))
        options = dict(loader.write_options)
        if self._exactly_once:
            options["txn"] = (self.app_id, batch_id)
        return loader.handle.write(df, loader.mode, keys=loader.keys, batch_id=batch_id, **options)

    # -- progress -----------------------------------------------------------------------
    def _add_listener(self, spark: Any) -> None:
        """Log each batch once Spark reports its input rows (progress events are asynchronous)."""
        from lakeport.api import listen_query_events as listen

        try:
            self._listener = listen(spark, progress=self._on_query_progress)
        except Exception as exc:  # noqa: BLE001 - progress is optional; the query runs without it
            log.debug("no streaming listener (%s); batch lines come at the end", exc)

    def _on_query_progress(self, progress: dict[str, Any]) -> None:
        if progress["id"] == self._query_id:
            self._on_progress(progress["batchId"], progress["numInputRows"])

    def _on_progress(self, batch_id: int, rows_in: int) -> None:
        with self._lock:
            stats = next((b for b in reversed(self.batches) if b.batch_id == batch_id and not b.logged), None)
            if stats is None:
                return
            if stats.rows_in is None:
                # numInputRows counts every row the batch's jobs read, a writer's look ahead too: a
                # count of the batch's rows the write made itself (its expectations) takes precedence
                stats.rows_in = int(rows_in)
            stats.logged = True
        log.info("%s: %s", self.name, describe_batch(stats))

    def _flush_progress(self) -> None:
        """Log batches whose progress event has not arrived yet (events are asynchronous)."""
        query = self.query
        if query is None:
            return
        for progress in query.recentProgress:
            self._on_progress(progress["batchId"], progress["numInputRows"])

    def _remove_listener(self) -> None:
        if self._listener is not None:
            remove, self._listener = self._listener, None
            remove()

    # -- waiting and stopping -----------------------------------------------------------
    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the query to end; Ctrl-C / SIGTERM stop it cleanly (twice: at once).

        The first signal lets the running batch finish, then stops; a second one
        abandons it. Either way the next start resumes from the checkpoint.
        """
        query = self._require_query()
        requests: list[int] = []
        previous = self._install_signal_handlers(requests)
        deadline = None if timeout is None else time.monotonic() + timeout
        graceful_until = None
        try:
            while True:
                if self._await(query, 0.2):
                    break
                if requests and graceful_until is None:
                    log.warning("%s: stopping after the running batch (signal again to abandon it)", self.name)
                    graceful_until = time.monotonic() + GRACEFUL_STOP_SECONDS
                if graceful_until is not None and (len(requests) > 1 or not self._batch_running(query)
                                                  or time.monotonic() > graceful_until):
                    self.stop()
                    raise KeyboardInterrupt
                if deadline is not None and time.monotonic() > deadline:
                    return False
        finally:
            self._restore_signal_handlers(previous)
        self._finish()
        return True

    def _await(self, query: StreamingQuery, seconds: float) -> bool:
        from pyspark.errors import StreamingQueryException

        try:
            # pyspark passes int(timeout * 1000) to the JVM: fractions of a second work; its stub says int
            return bool(query.awaitTermination(seconds))  # type: ignore[arg-type]
        except StreamingQueryException as exc:
            self._finish()
            error = self._batch_error
            if isinstance(error, LakeportError):
                raise error from None
            raise StreamError(f"{self.name}: streaming query failed: {_first_line(exc)}") from exc

    def _batch_running(self, query: StreamingQuery) -> bool:
        return self._in_batch.is_set() or bool(query.status.get("isTriggerActive"))

    def stop(self) -> None:
        """Stop the query now; a running batch is abandoned and replayed on the next start."""
        query = self._require_query()
        if query.isActive:
            log.info("%s: stopping", self.name)
            query.stop()
        self._stopped = True
        self._finish()
        log.info("%s: stopped; the next start resumes from %s", self.name, self.checkpoint_path)

    def _finish(self) -> None:
        if self._finished_at is None:
            self._finished_at = time.monotonic()
        self._flush_progress()
        self._remove_listener()

    def _require_query(self) -> StreamingQuery:
        if self.query is None:
            raise StreamError(f"{self.name}: the stream has not been started (call save(df) or run the Orchestrator)")
        return self.query

    def _install_signal_handlers(self, requests: list[int]) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum: int, frame: Any) -> None:
            requests.append(signum)

        previous: dict[int, Any] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    # -- reporting ----------------------------------------------------------------------
    def summary(self) -> str:
        """One line for ``lakeport run``: batches, rows, drops, replays, guarantee."""
        with self._lock:
            batches = list(self.batches)
        written = [b for b in batches if not b.skipped]
        rows_in = sum(b.rows_in or 0 for b in batches)
        parts = [f"{self.name}: {len(batches)} batch{'es' if len(batches) != 1 else ''}", f"{rows_in} rows in"]
        if all(b.rows_written is not None for b in written):
            parts.append(f"{sum(b.rows_written or 0 for b in written)} written")
        failures: dict[str, int] = {}
        actions: dict[str, str] = {}
        for batch in written:
            actions.update(batch.rule_actions)
            for rule, count in batch.rule_failures.items():
                failures[rule] = failures.get(rule, 0) + count
        parts += [describe_rule(rule, actions.get(rule, "allow"), count) for rule, count in failures.items()]
        skipped = len(batches) - len(written)
        if skipped:
            parts.append(f"{skipped} replayed batch{'es' if skipped != 1 else ''} skipped")
        parts.append("exactly-once" if self._exactly_once else "at-least-once")
        if self._started_at is not None:
            parts.append(f"{(self._finished_at or time.monotonic()) - self._started_at:.1f} s")
        if self._stopped:
            parts.append("stopped")
        return ", ".join(parts)


def _stats(batch_id: int, seconds: float, result: WriteResult | None) -> BatchStats:
    stats = BatchStats(batch_id=batch_id, seconds=seconds)
    if result is None:
        return stats
    stats.skipped = result.skipped
    expectations = result.expectations
    if expectations is not None:
        stats.rows_in = expectations.rows_in  # the batch's own rows: exact, unlike the progress's count
        stats.rows_written = expectations.rows_written
        stats.rows_dropped = expectations.rows_dropped + expectations.rows_quarantined
        stats.rule_failures = {rule.name: rule.failed for rule in expectations.rules}
        stats.rule_actions = {rule.name: rule.action for rule in expectations.rules}
    elif result.rows_written is not None:
        stats.rows_written = result.rows_written
    return stats


def describe_batch(stats: BatchStats) -> str:
    """``batch 3: 120 rows in, 118 written, 2 failed valid_id, 0.41 s``."""
    parts = [f"batch {stats.batch_id}", f"{stats.rows_in if stats.rows_in is not None else '?'} rows in"]
    if stats.skipped:
        parts.append("skipped (already committed: replay after a restart)")
    else:
        if stats.rows_written is not None:
            parts.append(f"{stats.rows_written} written")
        parts += [
            describe_rule(rule, stats.rule_actions.get(rule, "allow"), count)
            for rule, count in stats.rule_failures.items()
        ]
    parts.append(f"{stats.seconds:.2f} s")
    return ", ".join(parts)


def dedupe(df: DataFrame, keys: Iterable[str], sequence_by: str | None = None) -> DataFrame:
    """One row per key: the latest by ``sequence_by``, else the last to arrive.

    Handles' MERGEs insert duplicate source keys twice (delta-rs does), and a
    micro-batch easily holds several changes of one key.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = [F.col("__lakeport_arrival").desc()]
    if sequence_by:
        order.insert(0, F.col(sequence_by).desc_nulls_last())
    window = Window.partitionBy(*keys).orderBy(*order)
    return (
        df.withColumn("__lakeport_arrival", F.monotonically_increasing_id())
        .withColumn("__lakeport_rank", F.row_number().over(window))
        .filter("__lakeport_rank = 1")
        .drop("__lakeport_rank", "__lakeport_arrival")
    )


#: a lakeport error raised in one of Spark's Python workers, as Spark's error text quotes it.
_WORKER_ERROR = re.compile(r"^lakeport\w*(?:\.\w+)*\.\w+: (.+)$", re.MULTILINE)


def _first_line(exc: BaseException) -> str:
    """The error's first line, or the message of a lakeport error a Python worker raised (a source's)."""
    text = str(exc).strip()
    raised = _WORKER_ERROR.findall(text)
    if raised:
        return raised[-1]
    return text.splitlines()[0] if text else type(exc).__name__
