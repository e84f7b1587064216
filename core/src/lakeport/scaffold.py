"""``lakeport init --plugin NAME``: a connector distribution that installs, loads and passes the contract.

The generated handle keeps each table as a folder of Parquet files under its
``location`` option: simple, real storage, so the scaffold's tests are green
before the author replaces it with their system. Its option is ``location``,
not ``path`` or ``table``: those names are lakeport's own (docs/authoring.md).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from lakeport.errors import LakeportError

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "lakeport-{name}"
version = "0.1.0"
description = "The {name} kind for lakeport"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["lakeport>=0.1", "attrs>=23.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

# lakeport finds the plugin through this entry point; `lakeport plugins` lists it
[project.entry-points.lakeport]
{name} = "lakeport_{name}.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

README = '''\
# lakeport-{name}

Kind `{name}` for [lakeport](https://github.com/lakeport/lakeport).

```
pip install lakeport-{name}        # or: uv pip install lakeport-{name}
```

```toml
[tables.Events]
kind = "{name}"
location = "/data/{name}/events"   # the kind's own key
schema = "id BIGINT, name STRING"  # keys every table has: schema, expectations, ...
```

Develop: `pip install -e ".[test]"`, then `pytest` (the tests start a local Spark).
'''

INIT = '''\
"""lakeport-{name}: the ``{name}`` table kind."""

from lakeport_{name}.handle import {cls}Handle, {cls}Options

__all__ = ["{cls}Handle", "{cls}Options"]
'''

PLUGIN = '''\
"""Entry point of lakeport-{name}: hook implementations only, nothing heavy imported."""

from __future__ import annotations

from typing import Any

from lakeport.api import hookimpl


@hookimpl
def lakeport_register_handle_kinds(register: Any) -> None:
    # by reference: the handle module is imported only when a {name} table is built
    register("{name}", "lakeport_{name}.handle:{cls}Handle.from_config", options="lakeport_{name}.handle:{cls}Options")
'''

HANDLE = '''\
"""{cls}Handle: each table a folder of Parquet files under ``location`` (replace with your system)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from lakeport.api import ConfigError, Handle, TableNotFound, WriteResult, common_handle_kwargs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from lakeport.api import Project


@attrs.frozen
class {cls}Options:
    """The kind's own table keys; core checks them (unknown key, wrong type) with the key path."""

    location: str | None = None


class {cls}Handle(Handle):
    kind = "{name}"

    def __init__(self, *, location: str, **common: Any) -> None:
        super().__init__(**common)
        self.location = location

    @classmethod
    def from_config(cls, project: Project, table: str) -> {cls}Handle:
        options: {cls}Options = project.table_options(table)
        if not options.location:
            raise ConfigError(f"tables.{{table}}.location: kind \\"{name}\\" needs a location", source=project.source)
        return cls(location=options.location, **common_handle_kwargs(project, table))

    def describe(self) -> str:
        return f"parquet folder {{self.location}}"

    # -- the operations this kind supports: override _<operation> -------------------
    def _read(self, **options: Any) -> DataFrame:
        if not self._exists():
            raise TableNotFound(f"{name} table {{self.table!r}} has no data at {{self.location}}")
        reader = self.spark.read.options(**options)
        declared = self.declared_struct()
        return (reader.schema(declared) if declared is not None else reader).parquet(self.location)

    def _append(self, df: DataFrame, **options: Any) -> WriteResult:
        return self._save(df, "append")

    def _overwrite(self, df: DataFrame, **options: Any) -> WriteResult:
        return self._save(df, "overwrite")

    def _exists(self) -> bool:
        folder = Path(self.location)
        return folder.is_dir() and any(folder.glob("*.parquet"))

    def _drop(self) -> None:
        shutil.rmtree(self.location, ignore_errors=True)

    def _create(self) -> None:
        declared = self.declared_struct()
        if declared is None:
            raise self.unsupported("create", "declare `schema = \\"...\\"` on the table")
        if not self._exists():
            self._save(self.spark.createDataFrame([], declared), "append")

    def _schema(self) -> StructType:
        declared = self.declared_struct()
        return declared if declared is not None else self._read().schema

    def _save(self, df: DataFrame, mode: str) -> WriteResult:
        df.write.mode(mode).parquet(self.location)
        return WriteResult(table=self.table, kind=self.kind, mode=mode)
'''

TEST_CONTRACT = '''\
"""The contract every lakeport kind passes, from lakeport.testing (fixtures spark, tmp_lake)."""

import pytest

from lakeport.testing import HandleContract
from lakeport_{name} import {cls}Handle


class Test{cls}Contract(HandleContract):
    capabilities = frozenset({{"read", "append", "overwrite", "drop", "create", "exists", "schema"}})

    @pytest.fixture
    def make_handle(self, tmp_lake):
        counter = iter(range(1000))

        def make(schema, expectations=()):  # a fresh, empty table per call
            return {cls}Handle(location=str(tmp_lake / f"t{{next(counter)}}"), schema=schema,
                               expectations=expectations, table="people")

        return make
'''

TEST_CONFIG = '''\
"""The kind as a project file uses it: found through its entry point, options checked by core."""

import pytest

from lakeport import ConfigError


def test_a_table_of_this_kind_loads_from_the_project_file(lakeport_project, tmp_lake):
    project = lakeport_project(
        '[tables.T]\\nkind = "{name}"\\nlocation = "{{project_dir}}/t"\\nschema = "id BIGINT"\\n'
    )
    handle = project.handle("T")
    assert handle.kind == "{name}" and handle.location == f"{{tmp_lake}}/t"


def test_a_misspelt_option_names_the_table_and_the_key(lakeport_project):
    with pytest.raises(ConfigError, match=r"tables.T: unknown key\\(s\\) locaton \\(did you mean 'location'\\?\\)"):
        lakeport_project('[tables.T]\\nkind = "{name}"\\nlocaton = "/x"\\n')
'''


def _names(name: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise LakeportError(
            f"plugin name {name!r}: use lower case letters, digits and underscores, starting with a letter "
            "(it becomes the kind, the entry point and the package lakeport_<name>)"
        )
    return name, "".join(part.capitalize() for part in name.split("_"))


def create_plugin(name: str, directory: Path) -> list[Path]:
    """Write distribution ``lakeport-<name>`` into ``directory``; refuse to overwrite one."""
    name, cls = _names(name)
    if (directory / "pyproject.toml").exists():
        raise LakeportError(f"{directory / 'pyproject.toml'} already exists; not overwriting it")
    package = directory / "src" / f"lakeport_{name}"
    files = {
        directory / "pyproject.toml": PYPROJECT,
        directory / "README.md": README,
        package / "__init__.py": INIT,
        package / "plugin.py": PLUGIN,
        package / "handle.py": HANDLE,
        directory / "tests" / "test_contract.py": TEST_CONTRACT,
        directory / "tests" / "test_config.py": TEST_CONFIG,
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name, cls=cls))
    return list(files)
