"""The cache of ``lakeport plugins``: what the real console script prints, cached or not.

Every test runs the installed ``lakeport`` script in a subprocess with its own
cache folder and compares with ``LAKEPORT_NO_CACHE=1``: the cached answer must be
byte for byte the uncached one, and any change that could change it must show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakeport.testing import make_distribution

SCRIPT = Path(sys.executable).with_name("lakeport")

pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason="the lakeport console script is not installed")

PLUGIN_SOURCE = '''
from lakeport import hookimpl


@hookimpl
def lakeport_register_handle_kinds(register):
    register("{kind}", "builtins:dict")
'''


class Lakeport:
    """Runs the console script in one folder with one cache folder and extra ``PYTHONPATH`` entries."""

    def __init__(self, cwd: Path, cache: Path) -> None:
        self.cwd = cwd
        self.cache = cache
        self.path: list[Path] = []
        self.env: dict[str, str] = {}

    def run(self, *args: str, cached: bool = True, importtime: bool = False) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPORT_") and k != "PYTHONPATH"}
        env.update(self.env, LAKEPORT_CACHE_DIR=str(self.cache))
        if self.path:
            env["PYTHONPATH"] = os.pathsep.join(map(str, self.path))
        if not cached:
            env["LAKEPORT_NO_CACHE"] = "1"
        command = [sys.executable, *(["-X", "importtime"] if importtime else []), str(SCRIPT), *args]
        done = subprocess.run(command, cwd=self.cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done

    def out(self, *args: str) -> str:
        """Stdout of a cached run, checked against an uncached one."""
        cached = self.run(*args).stdout
        assert cached == self.run(*args, cached=False).stdout
        return cached

    def entries(self) -> list[Path]:
        return sorted(self.cache.glob("plugins-*.cache"))


@pytest.fixture
def lakeport(tmp_path: Path) -> Lakeport:
    (tmp_path / "work").mkdir()
    return Lakeport(tmp_path / "work", tmp_path / "cache")


def row(output: str, plugin: str) -> list[str] | None:
    """The cells of ``plugin``'s row in the ``lakeport plugins`` table."""
    return next((line.split() for line in output.splitlines() if line.split()[:1] == [plugin]), None)


def imported(done: subprocess.CompletedProcess[str]) -> set[str]:
    """Module names in ``-X importtime`` output."""
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("with_project", [False, True], ids=["no-project", "project"])
@pytest.mark.parametrize("args", [("plugins",), ("plugins", "--json")], ids=["table", "json"])
def test_warm_run_prints_the_uncached_bytes_without_importing_pluggy(lakeport, args, with_project):
    if with_project:
        (lakeport.cwd / "lakeport.toml").write_text('[tables.A]\nkind = "files"\nformat = "json"\npath = "/a"\n')
    uncached = lakeport.run(*args, cached=False)
    assert lakeport.entries() == []  # LAKEPORT_NO_CACHE=1 writes nothing
    cold = lakeport.run(*args, importtime=True)
    assert "pluggy" in imported(cold)
    assert len(lakeport.entries()) == 1
    warm = lakeport.run(*args, importtime=True)
    assert warm.stdout == cold.stdout == uncached.stdout
    assert "files" in warm.stdout
    modules = imported(warm)
    assert {"lakeport", "lakeport.plugins_cache"} <= modules
    assert not modules & {"pluggy", "argparse", "attrs", "typing", "logging", "json", "lakeport.cli"}


def test_table_and_json_and_each_project_file_have_their_own_entry(lakeport):
    (lakeport.cwd / "other.toml").write_text("")
    for args in (("plugins",), ("plugins", "--json"), ("plugins", "-c", "other.toml")):
        lakeport.out(*args)
    assert len(lakeport.entries()) == 3
    assert lakeport.out("plugins", "--json").startswith("[")
    assert lakeport.out("plugins").startswith("plugin ")


def test_editing_or_touching_a_plugin_module_shows_the_new_truth(lakeport, tmp_path):
    site = make_distribution(tmp_path / "site", name="lakeport_cached", dist="lakeport-cached",
                             source=PLUGIN_SOURCE.format(kind="first"), ep_name="cached")
    lakeport.path.append(site)
    assert row(lakeport.out("plugins"), "cached") == ["cached", "lakeport-cached", "1.2.3", "first"]
    module = site / "lakeport_cached" / "__init__.py"
    module.write_text(PLUGIN_SOURCE.format(kind="second"))  # another size (Python's .pyc check needs it too)
    assert row(lakeport.out("plugins"), "cached") == ["cached", "lakeport-cached", "1.2.3", "second"]
    module.write_text(PLUGIN_SOURCE.format(kind="secnd2"))  # the same size: only the mtime tells
    os.utime(module, ns=(1_000_000_000, 1_000_000_000))
    assert row(lakeport.out("plugins"), "cached") == ["cached", "lakeport-cached", "1.2.3", "secnd2"]


def test_installing_and_removing_an_entry_point_shows_the_new_truth(lakeport, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    lakeport.path.append(site)
    assert "lakeport-added" not in lakeport.out("plugins", "--json")
    make_distribution(site, name="lakeport_added", dist="lakeport-added", source=PLUGIN_SOURCE.format(kind="added"),
                      ep_name="added")
    assert '"distribution": "lakeport-added"' in lakeport.out("plugins", "--json")
    info = next(site.glob("lakeport_added-*.dist-info"))
    (info / "entry_points.txt").write_text("[lakeport]\nrenamed = lakeport_added\n")  # edited in place
    assert '"name": "renamed"' in lakeport.out("plugins", "--json")
    for path in sorted(info.iterdir()):
        path.unlink()
    info.rmdir()
    assert "lakeport-added" not in lakeport.out("plugins", "--json")


def test_changing_the_project_file_shows_the_new_truth(lakeport):
    before = lakeport.out("plugins")
    assert row(before, "files") is not None
    project = lakeport.cwd / "lakeport.toml"
    project.write_text('[lakeport]\ndisable = ["files"]\n')  # appears
    assert row(lakeport.out("plugins"), "files") is None
    project.write_text("[lakeport]\ndisable = []\n")  # changes
    assert lakeport.out("plugins") == before
    project.write_text('[lakeport]\ndisable = ["files"]\n')
    assert row(lakeport.out("plugins"), "files") is None
    project.unlink()  # disappears
    assert lakeport.out("plugins") == before


def test_a_lakeport_variable_is_part_of_the_key(lakeport):
    before = lakeport.out("plugins")
    lakeport.env["LAKEPORT_DISABLE_PLUGINS"] = "files"
    assert row(before, "files") is not None and row(lakeport.out("plugins"), "files") is None


def test_a_variable_the_project_file_references_invalidates(lakeport):
    pytest.importorskip("lakeport_delta")
    (lakeport.cwd / "lakeport.toml").write_text('[plugins.delta]\nbackend = "${env:DELTA_BACKEND}"\n')
    lakeport.env["DELTA_BACKEND"] = "native"
    assert "backend for kind delta: native (configured in [plugins.delta])" in lakeport.out("plugins")
    lakeport.env["DELTA_BACKEND"] = "embedded"
    assert "backend for kind delta: embedded (configured in [plugins.delta])" in lakeport.out("plugins")


def test_a_corrupt_cache_file_is_ignored_and_rewritten(lakeport):
    good = lakeport.out("plugins", "--json")
    (entry,) = lakeport.entries()
    for garbage in (b"", b"\xff\xfe not ours", entry.read_bytes()[:-40], entry.read_bytes() + b"\0extra"):
        entry.write_bytes(garbage)
        assert lakeport.run("plugins", "--json").stdout == good
        assert lakeport.run("plugins", "--json", importtime=True).stdout == good
    assert "pluggy" not in imported(lakeport.run("plugins", "--json", importtime=True))  # rewritten, valid again


def test_an_unwritable_cache_folder_means_no_cache(lakeport, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    lakeport.cache = blocker / "cache"  # cannot be created, even by root
    first = lakeport.run("plugins")
    assert first.stderr == ""
    assert lakeport.run("plugins").stdout == first.stdout == lakeport.run("plugins", cached=False).stdout


def test_a_run_that_warned_is_not_cached(lakeport, tmp_path):
    noisy = "import logging\nlogging.getLogger('lakeport_noisy').warning('noisy plugin loaded')\n"
    lakeport.path.append(make_distribution(tmp_path / "site", name="lakeport_noisy", dist="lakeport-noisy",
                                           source=noisy, ep_name="noisy"))
    for _ in range(2):
        assert "noisy plugin loaded" in lakeport.run("plugins").stderr
    assert lakeport.entries() == []


def test_other_command_lines_take_the_normal_path(lakeport):
    lakeport.out("plugins")
    assert lakeport.entries()
    done = lakeport.run("-v", "plugins", importtime=True)
    assert "pluggy" in imported(done)
    assert lakeport.run("plugins", "--help").stdout.startswith("usage: lakeport plugins")
