"""Entry-point discovery without importlib.metadata agrees with it on what users install."""

from __future__ import annotations

import importlib.metadata

from lakeport.entrypoints import entry_points, find_distribution


def make_dist(folder, dirname, entry_points_txt=None, metadata=None):
    info = folder / dirname
    info.mkdir(parents=True)
    if entry_points_txt is not None:
        (info / "entry_points.txt").write_text(entry_points_txt)
    if metadata is not None:
        (info / ("PKG-INFO" if dirname.endswith(".egg-info") else "METADATA")).write_text(metadata)
    return info


def test_reads_the_group_only_and_skips_comments(tmp_path):
    make_dist(tmp_path, "Acme_Plugin-2.0.dist-info",
              "[console_scripts]\nacme = acme.cli:main\n\n# a comment\n[lakeport]\nacme = acme.plugin\n"
              "acme_x=acme.other:hooks\n[other]\nnope = nope\n")
    found = entry_points("lakeport", path=[str(tmp_path)])
    assert [(e.name, e.value, e.distribution, e.version) for e in found] == [
        ("acme", "acme.plugin", "acme-plugin", "2.0"),
        ("acme_x", "acme.other:hooks", "acme-plugin", "2.0"),
    ]


def test_first_distribution_of_a_name_on_the_path_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    make_dist(first, "acme_plugin-2.0.dist-info", "[lakeport]\nacme = acme.new\n")
    make_dist(second, "acme-plugin.egg-info", "[lakeport]\nacme = acme.old\n", "Name: acme-plugin\nVersion: 1.0\n\nbody")
    assert [e.value for e in entry_points("lakeport", path=[str(first), str(second)])] == ["acme.new"]
    assert [(e.value, e.version) for e in entry_points("lakeport", path=[str(second), str(first)])] == [("acme.old", "1.0")]


def test_missing_folders_and_files_on_the_path_are_skipped(tmp_path):
    (tmp_path / "a.zip").write_bytes(b"PK")
    make_dist(tmp_path, "no_entry_points-1.0.dist-info")
    assert entry_points("lakeport", path=[str(tmp_path / "missing"), str(tmp_path / "a.zip"), str(tmp_path)]) == []


def test_agrees_with_importlib_metadata_on_the_installed_plugins():
    ours = {(e.name, e.value, e.distribution, e.version) for e in entry_points("lakeport")}
    theirs = {
        (e.name, e.value, e.dist.name.lower().replace("_", "-"), e.dist.version)
        for e in importlib.metadata.entry_points(group="lakeport")
    }
    assert ours == theirs
    assert find_distribution("lakeport").version == importlib.metadata.version("lakeport")
