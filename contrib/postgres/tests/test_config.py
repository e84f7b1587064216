"""The kind as a project file uses it: found through its entry point, options checked by core."""

import pytest

from lakeport import ConfigError


def test_a_table_of_this_kind_loads_from_the_project_file(lakeport_project, tmp_lake):
    project = lakeport_project(
        '[tables.T]\nkind = "postgres"\nlocation = "{project_dir}/t"\nschema = "id BIGINT"\n'
    )
    handle = project.handle("T")
    assert handle.kind == "postgres" and handle.location == f"{tmp_lake}/t"


def test_a_misspelt_option_names_the_table_and_the_key(lakeport_project):
    with pytest.raises(ConfigError, match=r"tables.T: unknown key\(s\) locaton \(did you mean 'location'\?\)"):
        lakeport_project('[tables.T]\nkind = "postgres"\nlocaton = "/x"\n')
