"""``lakeport validate``: everything that can be checked before data moves."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import attrs

from lakeport.errors import ConfigError, LakeportError

if TYPE_CHECKING:
    from lakeport.project import Project


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k: _plain(v) for k, v in attrs.asdict(value, recurse=False).items() if v is not None}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _plain_pipeline(pipeline: Any) -> dict[str, Any]:
    """An entry as the file would spell it: kind, the kind's keys, the keys plugins added."""
    plain = {"kind": pipeline.kind, **(_plain(pipeline.options) or {})}
    for extension in pipeline.extensions.values():
        plain.update(_plain(extension))
    return plain


def validate_project(project: Project, *, spark: bool = True) -> dict[str, Any]:
    """Raise one ConfigError listing every problem; return the resolved configuration."""
    from lakeport.etl.pipelines import import_callable
    from lakeport.expectations import check_constraints, expectations_from_spec
    from lakeport.schema import SchemaSyntaxError, parse_ddl

    config = project.config
    problems: list[str] = []
    custom_actions = tuple(project.hooks.expectation_actions())
    to_check_with_spark = []
    locations: dict[str, str] = {}

    for name, spec in config.tables.items():
        where = f"tables.{name}"
        schema = None
        if spec.schema:
            try:
                schema = parse_ddl(spec.schema)
            except SchemaSyntaxError as exc:
                problems.append(f"{where}.schema: {exc}")
        rules = expectations_from_spec(spec)  # actions were checked when the project loaded
        if any(r.action == "quarantine" for r in rules):
            if not spec.quarantine_table:
                problems.append(f"{where}.quarantine_table: a rule has action \"quarantine\"; name the table that receives failing rows")
            elif spec.quarantine_table not in config.tables:
                problems.append(f"{where}.quarantine_table: unknown table {spec.quarantine_table!r}")
        if rules and schema is not None:
            to_check_with_spark.append((name, rules, schema))
        try:
            locations[name] = project.handle(name).describe()
        except LakeportError as exc:
            problems.extend(exc.problems if isinstance(exc, ConfigError) else [f"{where}: {exc}"])

    if config.settings.event_log and config.settings.event_log not in config.tables:
        problems.append(f"lakeport.event_log: unknown table {config.settings.event_log!r}")

    for name, pipeline in config.pipelines.items():
        transform = getattr(pipeline.options, "transform", None) if pipeline.kind == "etl" else None
        if transform:
            try:
                import_callable(transform, where=f"pipelines.{name}.transform", source=project.source, root=project.root)
            except ConfigError as exc:
                problems.extend(exc.problems)

    if spark and to_check_with_spark and not problems:
        session = project.spark()
        for name, rules, schema in to_check_with_spark:
            try:
                check_constraints(rules, schema, table=name, spark=session, custom_actions=custom_actions)
            except ConfigError as exc:
                problems.extend(exc.problems)

    if problems:
        raise ConfigError(problems, source=project.source)
    return {
        "env": config.env,
        "vars": dict(config.vars),
        "settings": _plain(config.settings),
        "tables": {
            name: {
                **_plain(attrs.evolve(spec, options=None)),
                **_plain(project.table_options(name) or {}),
                **({"location": locations[name]} if locations.get(name) else {}),
            }
            for name, spec in config.tables.items()
        },
        "pipelines": {name: _plain_pipeline(p) for name, p in config.pipelines.items()},
        "plugins": {name: _plain(settings) for name, settings in config.plugin_settings.items()},
    }
