"""The hooks through which plugins extend lakeport.

Every hook is prefixed ``lakeport_``; the project name, the hook prefix and the
entry-point group are the same word. Call hooks through
:class:`lakeport.plugins.Hooks`, never through ``pm.hook`` by string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from lakeport.markers import hookspec

if TYPE_CHECKING:
    from lakeport.commands import CommandRegistry
    from lakeport.context import ReadContext, WriteContext, WriteResult
    from lakeport.expectations.values import ExpectationResults
    from lakeport.kinds import HandleKindRegistrar, PipelineKindRegistrar
    from lakeport.plugin_settings import SettingsRegistrar
    from lakeport.protocols import LoaderView, ProjectView


@hookspec
def lakeport_register_handle_kinds(register: HandleKindRegistrar) -> None:
    """Register the handle kinds this plugin provides.

    Call ``register("delta", DeltaHandle.from_config, options=DeltaOptions)``;
    the ``kind`` key of a table in the project file picks the factory. The host
    owns the registry and reports a kind registered twice.

    .. versionadded:: 0.1
    """


@hookspec
def lakeport_register_pipeline_kinds(register: PipelineKindRegistrar) -> None:
    """Register the pipeline kinds this plugin runs.

    Call ``register("dlt", "pkg.module:build", options=DltOptions)``; the
    ``kind`` key of a ``[pipelines.<name>]`` entry picks it (default ``etl``,
    the built-in source -> transform -> target kind). ``build(project, spec)``
    returns an object with ``execute()`` and ``result() -> PipelineResult``;
    ``check=`` may name a function ``check(spec, tables, where) -> [problem]``
    run when the project loads.

    .. versionadded:: 0.2
    """


@hookspec
def lakeport_register_settings(register: SettingsRegistrar) -> None:
    """Declare this plugin's settings: its ``[plugins.<name>]`` section and extra pipeline keys.

    Call ``register(DeltaSettings)`` for the section (an attrs class; the
    project reads it back with ``project.plugin_settings(DeltaSettings)``), and
    ``register(pipeline_keys=StreamKeys)`` for keys added to ``[pipelines.<name>]``
    entries of kind ``etl`` (``spec.extension(StreamKeys)``). Core structures both
    with its converter: a wrong key is an error naming file, section and key.

    .. versionadded:: 0.2
    """


@hookspec
def lakeport_spark_conf(project: ProjectView) -> Mapping[str, str] | None:
    """Return Spark settings this plugin needs in a session lakeport builds.

    Ignored when lakeport reuses an existing session (Databricks, Spark Connect).

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def lakeport_explain_session_failure(error: BaseException, conf: Mapping[str, str]) -> str | None:
    """Say why the local SparkSession lakeport built with ``conf`` did not start, or return None.

    E.g. jars in ``spark.jars.packages`` that could not be resolved; the first
    message returned is raised as a ConfigError instead of Spark's own error.

    .. versionadded:: 0.2
    """


@hookspec
def lakeport_after_read(read: ReadContext) -> None:
    """Inspect or replace ``read.df`` after every handle read (batch or stream).

    .. versionadded:: 0.1
    """


@hookspec
def lakeport_before_write(write: WriteContext) -> None:
    """Inspect or replace ``write.df`` before every handle write.

    Expectations, audit columns and metrics plug in here. Register work that
    must happen after the write with ``write.after_commit(callback)``.

    .. versionadded:: 0.1
    """


@hookspec
def lakeport_after_write(write: WriteContext, result: WriteResult) -> None:
    """Called once the write committed (or was skipped as a replay).

    .. versionadded:: 0.1
    """


@hookspec
def lakeport_register_expectation_actions(register: Callable[..., None]) -> None:
    """Register extra expectation actions: ``register("warn", handler)``.

    .. versionadded:: 0.1
    """


@hookspec
def lakeport_expectation_results(results: ExpectationResults) -> None:
    """Receive per-rule pass/fail counts of every write that had expectations.

    .. versionadded:: 0.1
    """


@hookspec
def lakeport_register_commands(cli: CommandRegistry) -> None:
    """Add subcommands to the ``lakeport`` CLI: ``cli.add_command(...)``.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def lakeport_make_stream_loader(project: ProjectView, pipeline: Any, loader: LoaderView) -> LoaderView | None:
    """Wrap ``loader`` so it consumes a streaming DataFrame (foreachBatch).

    The ``etl`` pipeline kind asks this for every pipeline it builds, with the
    ``PipelineSpec``; a plugin returns None unless the entry asks for a stream
    (its own pipeline keys, e.g. ``trigger``). The first loader returned wins,
    and the source is then read as a stream.

    .. versionadded:: 0.1
    """
