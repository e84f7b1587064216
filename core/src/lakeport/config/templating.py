"""``{var}``, ``{Table}``, ``{Table.prop}`` and ``${env:VAR}`` in project files.

Semantics follow spetlr's Configurator: ``{Table}`` is that table's ``name``,
``{Table.prop}`` any of its keys. ``{{`` and ``}}`` are literal braces. Loops and
unknown references are errors that name the key where they occur.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from lakeport.errors import ConfigError

_TOKEN = re.compile(
    r"\{\{|\}\}"
    r"|\$\{env:(?P<envvar>[A-Za-z_][A-Za-z0-9_]*)\}"
    r"|\{(?P<ref>[A-Za-z_][A-Za-z0-9_\-]*)(?:\.(?P<prop>[A-Za-z_][A-Za-z0-9_]*))?\}"
)


def env_references(text: str) -> list[str]:
    """``NAME`` of every ``${env:NAME}`` in ``text``, sorted: the variables its expansion reads."""
    return sorted({m.group("envvar") for m in _TOKEN.finditer(text) if m.group("envvar")})


class Resolver:
    """Expands templates against the environment's vars, the tables and os.environ."""

    def __init__(
        self,
        *,
        source: str,
        variables: Mapping[str, Any],
        tables: Mapping[str, Mapping[str, Any]],
        environ: Mapping[str, str],
        env_name: str | None,
    ) -> None:
        self.source = source
        self.variables = variables
        self.tables = tables
        self.environ = environ
        self.env_name = env_name
        self._vars_done: dict[str, Any] = {}
        self._props_done: dict[tuple[str, str], Any] = {}

    # -- public -----------------------------------------------------------------------
    def expand(self, value: Any, where: str, stack: tuple[str, ...] = ()) -> Any:
        """Expand every string inside ``value`` (lists and tables recursively)."""
        if isinstance(value, str):
            return self._expand_string(value, where, stack)
        if isinstance(value, list):
            return [self.expand(v, f"{where}[{i}]", stack) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.expand(v, f"{where}.{k}", stack) for k, v in value.items()}
        return value

    def var(self, name: str, where: str, stack: tuple[str, ...] = ()) -> Any:
        key = f"env.{self.env_name}.vars.{name}"
        if name not in self._vars_done:
            self._check_loop(key, stack)
            self._vars_done[name] = self.expand(self.variables[name], key, (*stack, key))
        return self._vars_done[name]

    def table_property(self, table: str, prop: str, where: str, stack: tuple[str, ...] = ()) -> Any:
        raw = self.tables[table]
        key = f"tables.{table}.{prop}"
        if prop not in raw:
            have = ", ".join(sorted(k for k in raw if not isinstance(raw[k], (dict, list)))) or "none"
            if prop == "name":
                what = f"no name (give it a name, or reference a property: {{{table}.path}})"
            else:
                what = f"no property {prop!r}"
            raise ConfigError(f"{where}: table {table!r} has {what} (it has: {have})", source=self.source)
        if (table, prop) not in self._props_done:
            self._check_loop(key, stack)
            self._props_done[(table, prop)] = self.expand(raw[prop], key, (*stack, key))
        return self._props_done[(table, prop)]

    # -- internals --------------------------------------------------------------------
    def _check_loop(self, key: str, stack: tuple[str, ...]) -> None:
        if key in stack:
            chain = " -> ".join((*stack[stack.index(key):], key))
            raise ConfigError(f"{stack[0]}: reference loop: {chain}", source=self.source)

    def _expand_string(self, text: str, where: str, stack: tuple[str, ...]) -> Any:
        matches = list(_TOKEN.finditer(text))
        if not matches:
            return text
        # A value that is exactly one reference keeps the referenced type (ints stay ints).
        if len(matches) == 1 and matches[0].span() == (0, len(text)) and matches[0].group(0) not in ("{{", "}}"):
            return self._resolve(matches[0], where, stack)
        return _TOKEN.sub(lambda m: str(self._resolve(m, where, stack)), text)

    def _resolve(self, match: re.Match[str], where: str, stack: tuple[str, ...]) -> Any:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        if match.group("envvar"):
            name = match.group("envvar")
            if name not in self.environ:
                raise ConfigError(
                    f"{where}: environment variable {name} is not set (referenced as ${{env:{name}}})",
                    source=self.source,
                )
            return self.environ[name]
        ref, prop = match.group("ref"), match.group("prop")
        inner = stack or (where,)
        if prop is None and ref in self.variables:
            return self.var(ref, where, inner)
        if ref in self.tables:
            return self.table_property(ref, prop or "name", where, inner)
        known_vars = ", ".join(sorted(self.variables)) or "none"
        if prop is not None:
            raise ConfigError(
                f"{where}: unknown reference {token}: there is no table {ref!r}", source=self.source
            )
        env_note = f" in env {self.env_name!r}" if self.env_name else " (no env selected)"
        raise ConfigError(
            f"{where}: unknown reference {token}: not a var{env_note} (vars: {known_vars}) "
            f"nor a table; write {{{{ and }}}} for literal braces",
            source=self.source,
        )
