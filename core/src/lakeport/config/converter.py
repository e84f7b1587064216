"""The project's one cattrs converter, and turning its errors into key paths."""

from __future__ import annotations

import enum
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from lakeport.errors import ConfigError


def _strict(expected: type, name: str):
    def structure(value: Any, target: type) -> Any:
        if isinstance(target, type) and issubclass(target, enum.Enum):
            return _structure_enum(value, target)
        if isinstance(value, bool) and expected is not bool:
            raise TypeError(f"expected {name}, got boolean {value!r}")
        if expected is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, expected):
            raise TypeError(f"expected {name}, got {type(value).__name__} {value!r}")
        return value

    return structure


def _structure_enum(value: Any, enum_type: type[enum.Enum]) -> enum.Enum:
    choices = [m.value for m in enum_type]
    try:
        return enum_type(value)
    except ValueError:
        raise ValueError(f"expected one of {', '.join(choices)}; got {value!r}") from None


def _structure_str_tuple(value: Any, _type: type) -> tuple[str, ...]:
    if isinstance(value, str):  # a lone string is a common slip for a list of one
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list of strings, got {type(value).__name__} {value!r}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise TypeError(f"expected a list of strings; item [{index}] is {type(item).__name__} {item!r}")
    return tuple(value)


def make_converter() -> cattrs.Converter:
    """A private converter: strict scalars, no extra keys, enums with their choices."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    # singledispatch hooks win over cattrs' own; a str-based enum reaches the str hook
    for scalar, name in ((str, "a string"), (int, "an integer"), (float, "a number"), (bool, "true or false")):
        converter.register_structure_hook(scalar, _strict(scalar, name))
    converter.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_str_tuple)
    converter.register_structure_hook(enum.Enum, _structure_enum)
    return converter


CONVERTER = make_converter()


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, ForbiddenExtraKeysError):
        valid = ", ".join(a.name for a in attrs.fields(exc.cl)) if attrs.has(exc.cl) else ""
        extra = ", ".join(sorted(exc.extra_fields))
        return f"unknown key(s) {extra}" + (f"; valid keys: {valid}" if valid else "")
    if isinstance(exc, KeyError):
        return "required key is missing"
    if isinstance(exc, (ValueError, TypeError)) and str(exc) and not isinstance(exc, IterableValidationError):
        text = str(exc)
        if text.startswith("expected"):
            return text
    return cattrs.v.format_exception(exc, type_)


def structure(value: Any, cls: type, *, source: str, path: str) -> Any:
    """Structure ``value`` into ``cls``; raise one ConfigError naming every key path at fault."""
    if not isinstance(value, dict) and attrs.has(cls):
        raise ConfigError(f"{path}: expected a table (key = value pairs), got {type(value).__name__}", source=source)
    try:
        return CONVERTER.structure(value, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        problems = []
        for line in cattrs.transform_error(exc, path="$", format_exception=_format_exception):
            message, _, where = line.rpartition(" @ ")
            problems.append(f"{_join_path(path, where)}: {message}")
        raise ConfigError(problems, source=source) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}", source=source) from None


def _join_path(prefix: str, where: str) -> str:
    rest = where[1:] if where.startswith("$") else where
    rest = rest[1:] if rest.startswith(".") else rest
    if not rest:
        return prefix
    return f"{prefix}{rest}" if rest.startswith("[") else f"{prefix}.{rest}"
