"""delta_spark_conf(): the settings that give a local session delta-spark; and what a failed jar fetch says."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("delta", reason="needs delta-spark (pip install lakeport-delta[spark])")

from lakeport_delta.spark_conf import delta_coordinate, delta_spark_conf  # noqa: E402


def test_conf_names_the_jar_of_the_installed_pyspark_and_delta_spark():
    from importlib.metadata import version

    import pyspark

    conf = delta_spark_conf()
    major_minor = ".".join(pyspark.__version__.split(".")[:2])
    assert conf["spark.jars.packages"].startswith(f"io.delta:delta-spark_{major_minor}_2.13:4.4.")
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert int(conf["spark.databricks.delta.snapshotPartitions"]) >= 2  # one per core, not Delta's 50
    assert version("delta-spark").startswith("4.4.")
    # PyPI's 4.4.1 has no jar on Maven Central: its line's published jar is used
    assert delta_coordinate("4.4.1", "4.2.0") == "io.delta:delta-spark_4.2_2.13:4.4.0"
    assert delta_coordinate("4.4.0", "4.1.1") == "io.delta:delta-spark_4.1_2.13:4.4.0"


CHILD = textwrap.dedent("""
    import sys
    from lakeport.session import get_or_create_session
    from lakeport_delta.spark_conf import delta_spark_conf, explain_jar_failure

    conf = {**delta_spark_conf(), "spark.jars.ivy": sys.argv[1], "spark.jars.ivySettings": sys.argv[2],
            "spark.jars.repositories": "http://127.0.0.1:1/maven2"}
    get_or_create_session(conf, explain_failure=explain_jar_failure)
""")

NO_NETWORK = """<ivysettings>
  <settings defaultResolver="nowhere"/>
  <resolvers><ibiblio name="nowhere" m2compatible="true" root="http://127.0.0.1:1/maven2/"/></resolvers>
</ivysettings>
"""


def test_unresolvable_jars_say_which_coordinates_and_how_to_fall_back(tmp_path):
    """A session start with no reachable Maven repository and an empty Ivy cache, in a real subprocess."""
    (tmp_path / "ivy").mkdir()
    (tmp_path / "ivysettings.xml").write_text(NO_NETWORK)
    (tmp_path / "child.py").write_text(CHILD)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "child.py"), str(tmp_path / "ivy"), str(tmp_path / "ivysettings.xml")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYSPARK_SUBMIT_ARGS": "pyspark-shell"},
    )
    assert done.returncode == 1
    python_part = done.stderr[done.stderr.rindex("Traceback (most recent call last)"):]
    last = python_part.strip().splitlines()[-1]
    coordinate = delta_spark_conf()["spark.jars.packages"]
    assert last.startswith("lakeport.errors.ConfigError: Spark did not start: the Maven packages " + coordinate)
    assert 'could not be resolved' in last and '[plugins.delta] backend = "embedded"' in last
    assert "py4j" not in python_part.lower() and "JAVA_GATEWAY_EXITED" not in python_part


def test_a_project_asking_for_the_jars_without_network_gets_one_error_from_lakeport_run(tmp_path):
    """The same through the plugin's hooks (lakeport_spark_conf, lakeport_explain_session_failure), as a user meets it."""
    (tmp_path / "ivy").mkdir()
    (tmp_path / "ivysettings.xml").write_text(NO_NETWORK)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "1.json").write_text('{"id": 1}\n')
    (tmp_path / "lakeport.toml").write_text(textwrap.dedent(f"""
        [lakeport.spark_conf]
        "spark.jars.ivy" = "{tmp_path / 'ivy'}"
        "spark.jars.ivySettings" = "{tmp_path / 'ivysettings.xml'}"

        [plugins.delta]
        jars = true

        [tables.In]
        kind = "files"
        format = "json"
        path = "{tmp_path / 'in'}"
        schema = "id BIGINT"

        [tables.Out]
        kind = "delta"
        path = "{tmp_path / 'out'}"

        [pipelines.copy]
        source = "In"
        target = "Out"
    """))
    done = subprocess.run([sys.executable, "-m", "lakeport.cli", "run", "copy"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYSPARK_SUBMIT_ARGS": "pyspark-shell"})
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Spark did not start: the Maven packages " + delta_spark_conf()["spark.jars.packages"])
    assert '[plugins.delta] backend = "embedded"' in last and "Traceback" not in done.stderr
