"""``lakeport dlt deploy|destroy``: the real databricks-sdk against a fake workspace on 127.0.0.1.

The server (lakeport_dlt.testing.FakeWorkspace) keeps state and records every
request, so each test asserts what a user sees (exit code, output) and what was
sent and left on the workspace. No Spark is started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakeport.cli import main
from lakeport_dlt.testing import FakeWorkspace

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "streaming_append"
FOLDER = "/Workspace/Shared/lakeport/streaming_append_dev"
NAME = "streaming_append_dev"


@pytest.fixture(scope="module")
def server():
    with FakeWorkspace() as fake:
        yield fake


@pytest.fixture
def ws(server, monkeypatch, tmp_path):
    """The empty fake workspace, and the SDK's environment pointed at it (no ~/.databrickscfg of yours)."""
    for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_HOST", server.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", server.token)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "absent.databrickscfg"))
    monkeypatch.delenv("LAKEPORT_ENV", raising=False)
    server.reset()
    return server


@pytest.fixture
def project(tmp_path):
    """A copy of examples/streaming_append (the seed's pipeline, with its dev deploy settings)."""
    pytest.importorskip("lakeport_queue", reason="the example's source is a table of kind queue")
    folder = tmp_path / "project"
    folder.mkdir()
    for name in ("lakeport.toml", "streaming_append.py"):
        shutil.copy(EXAMPLE / name, folder / name)
    return folder / "lakeport.toml"


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def run(capsys, server: FakeWorkspace, *argv: str) -> Result:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert server.token not in captured.out + captured.err  # never, in any command's output
    return Result(code, captured.out, captured.err)


def deploy(capsys, server, project, *extra: str) -> Result:
    return run(capsys, server, "dlt", "deploy", "streaming_append", "--env", "dev", "-c", str(project), *extra)


def writes(server) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.write_calls()]


def edit(project: Path, old: str, new: str) -> None:
    text = project.read_text()
    assert old in text
    project.write_text(text.replace(old, new))


# -- deploy: create, then idempotent -------------------------------------------------------------
def test_the_example_deploys_files_and_one_pipeline(capsys, ws, project):
    result = deploy(capsys, ws, project)
    assert result.code == 0, result.err
    assert writes(ws) == [("POST", "/api/2.0/workspace/mkdirs")] + [("POST", "/api/2.0/workspace/import")] * 3 + [
        ("POST", "/api/2.0/pipelines")]
    assert f"deployed {NAME!r}: pipeline pipe-" in result.out and "created, 3 file(s) uploaded" in result.out
    assert sorted(ws.files) == [f"{FOLDER}/lakeport.toml", f"{FOLDER}/streaming_append.py",
                                f"{FOLDER}/streaming_append_pipeline.py"]
    assert ws.files[f"{FOLDER}/streaming_append.py"] == (project.parent / "streaming_append.py").read_bytes()
    assert b"@dlt.append_flow(target='append_table_name'" in ws.files[f"{FOLDER}/streaming_append_pipeline.py"]
    [pipeline] = ws.pipelines.values()
    spec = pipeline["spec"]
    assert pipeline["name"] == NAME
    assert (spec["catalog"], spec["schema"], spec["development"], spec["continuous"]) == ("main", "queue_example", True, False)
    [create] = ws.calls("POST", "^/api/2.0/pipelines$")
    assert create.body["clusters"] == [{"label": "default", "node_type_id": "Standard_DS3_v2",
                                        "autoscale": {"min_workers": 1, "max_workers": 2, "mode": "ENHANCED"}}]
    assert spec["clusters"][0]["enable_local_disk_encryption"] is False  # the server's default, no change later
    assert spec["libraries"] == [{"file": {"path": f"{FOLDER}/streaming_append_pipeline.py"}}]
    assert spec["root_path"] == FOLDER
    assert spec["configuration"]["lakeport.project_file"] == f"{FOLDER}/lakeport.toml"
    assert spec["configuration"]["lakeport.env"] == "dev"


def test_a_second_deploy_makes_no_write_call(capsys, ws, project):
    assert deploy(capsys, ws, project).code == 0
    ws.requests.clear()
    result = deploy(capsys, ws, project)
    assert result.code == 0, result.err
    assert writes(ws) == []
    assert "pipeline pipe-0001 unchanged, 0 file(s) uploaded, 3 unchanged" in result.out
    assert len(ws.pipelines) == 1


def test_a_changed_setting_is_one_edit_with_the_change(capsys, ws, project):
    assert deploy(capsys, ws, project).code == 0
    edit(project, 'edition = "ADVANCED"', 'edition = "PRO"')
    ws.requests.clear()
    dry = deploy(capsys, ws, project, "--dry-run")
    assert '    edition: "ADVANCED" -> "PRO"' in dry.out and writes(ws) == []
    result = deploy(capsys, ws, project)
    assert result.code == 0, result.err
    # the project file changed, so it is uploaded again (the pipeline reads its tables through it)
    assert writes(ws) == [("POST", "/api/2.0/workspace/import"), ("PUT", "/api/2.0/pipelines/pipe-0001")]
    assert ws.calls("POST", "import")[0].body["path"] == f"{FOLDER}/lakeport.toml"
    body = ws.calls("PUT")[0].body
    assert body["edition"] == "PRO" and body["id"] == "pipe-0001" and body["name"] == NAME
    assert ws.pipelines["pipe-0001"]["spec"]["edition"] == "PRO"


@pytest.mark.parametrize(("old", "new", "shown", "sent"), [
    ('tags = { team = "data" }\n', "", '    tags: {"team": "data"} -> (unset)', lambda body: "tags" not in body),
    (', mode = "ENHANCED" }', " }", "    a key inside a setting was removed or changed (the settings hash differs)",
     lambda body: body["clusters"][0]["autoscale"] == {"min_workers": 1, "max_workers": 2}),
])
def test_a_removed_setting_is_removed_on_the_workspace(capsys, ws, project, old, new, shown, sent):
    assert deploy(capsys, ws, project).code == 0
    edit(project, old, new)
    ws.requests.clear()
    result = deploy(capsys, ws, project)
    assert result.code == 0, result.err
    assert writes(ws) == [("POST", "/api/2.0/workspace/import"), ("PUT", "/api/2.0/pipelines/pipe-0001")]
    assert shown in result.out
    assert sent(ws.calls("PUT")[0].body)
    ws.requests.clear()
    assert deploy(capsys, ws, project).code == 0 and writes(ws) == []  # the server's copy is not taken for a change


def test_a_changed_source_file_is_one_import_and_no_pipeline_edit(capsys, ws, project):
    assert deploy(capsys, ws, project).code == 0
    code = project.parent / "streaming_append.py"
    code.write_text(code.read_text() + "\n# a change\n")
    ws.requests.clear()
    result = deploy(capsys, ws, project)
    assert result.code == 0, result.err
    assert writes(ws) == [("POST", "/api/2.0/workspace/import")]
    assert ws.calls("POST", "import")[0].body["path"] == f"{FOLDER}/streaming_append.py"
    assert ws.files[f"{FOLDER}/streaming_append.py"].endswith(b"# a change\n")
    assert "file streaming_append.py: upload (changed)" in result.out


def test_the_pipeline_is_found_on_a_later_page(capsys, ws, project):
    for index in range(5):  # listed before ours, two per page
        ws.pipelines[f"pipe-000{index}"] = {"pipeline_id": f"pipe-000{index}", "name": f"other{index}", "state": "IDLE",
                                            "creator_user_name": "bob", "spec": {"name": f"other{index}"}}
    assert deploy(capsys, ws, project).code == 0
    ws.requests.clear()
    assert deploy(capsys, ws, project).code == 0
    assert writes(ws) == []
    pages = ws.calls("GET", "^/api/2.0/pipelines$")
    assert [r.query.get("page_token") for r in pages] == [None, "2", "4"]


def test_dry_run_makes_only_read_calls(capsys, ws, project):
    result = deploy(capsys, ws, project, "--dry-run")
    assert result.code == 0, result.err
    assert ws.requests and writes(ws) == []
    assert "  pipeline: create" in result.out and "  file streaming_append_pipeline.py: upload (new)" in result.out
    assert "dry run: nothing was changed" in result.out
    assert ws.pipelines == {} and ws.files == {}


def test_as_individual_is_the_users_own_copy(capsys, ws, project):
    result = deploy(capsys, ws, project, "--as-individual")
    assert result.code == 0, result.err
    [pipeline] = ws.pipelines.values()
    assert pipeline["name"] == f"alice_{NAME}"
    folder = f"/Workspace/Users/alice@example.com/lakeport/{NAME}"
    assert f"{folder}/streaming_append_pipeline.py" in ws.files
    assert pipeline["spec"]["libraries"] == [{"file": {"path": f"{folder}/streaming_append_pipeline.py"}}]
    assert ws.calls("GET", "scim/v2/Me")


# -- failures --------------------------------------------------------------------------------------
def test_throttling_429_and_503_with_retry_after_are_retried(capsys, ws, project):
    ws.fail("POST", "/workspace/import", 429, retry_after="0")
    ws.fail("GET", "^/api/2.0/pipelines$", 503, retry_after="0")
    ws.fail("POST", "^/api/2.0/pipelines$", 429, retry_after="0")
    result = deploy(capsys, ws, project)
    assert result.code == 0, result.err
    assert len(ws.calls("POST", "/workspace/import")) == 4  # one refused, then the three files
    assert len(ws.calls("POST", "^/api/2.0/pipelines$")) == 2
    assert len(ws.pipelines) == 1 and len(ws.files) == 3


def test_a_refused_token_is_one_line_naming_the_host(capsys, ws, project, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong-token")
    result = deploy(capsys, ws, project)
    assert result.code != 0
    assert "Traceback" not in result.err and "dapi-wrong-token" not in result.out + result.err
    [line] = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert line == (f"error: {ws.url} refused the credentials (HTTP 401) to read the current user (SCIM Me): "
                    "Invalid access token.; check DATABRICKS_TOKEN or the profile")
    assert writes(ws) == []


def test_a_refused_create_is_one_line_naming_what_was_refused(capsys, ws, project):
    ws.fail("POST", "^/api/2.0/pipelines$", 403, message="User alice does not have permission to create pipelines")
    result = deploy(capsys, ws, project)
    assert result.code != 0 and "Traceback" not in result.err
    assert result.err.strip().splitlines()[-1] == (
        f"error: {ws.url} refused to create pipeline {NAME!r} (HTTP 403, permission denied): "
        "User alice does not have permission to create pipelines.")
    assert ws.pipelines == {}


@pytest.mark.parametrize("uploads_before_outage", [1, 3])
def test_an_outage_half_way_then_a_rerun_converges(capsys, ws, project, uploads_before_outage):
    ws.go_down_after("POST", "/workspace/import", count=uploads_before_outage)
    failed = deploy(capsys, ws, project)
    assert failed.code != 0 and ws.url in failed.err and "simulated outage" in failed.err
    assert ws.pipelines == {}
    ws.come_back()
    ws.requests.clear()
    result = deploy(capsys, ws, project)
    assert result.code == 0, result.err
    assert len(ws.calls("POST", "/workspace/import")) == 3 - uploads_before_outage  # what got there stays
    assert len(ws.pipelines) == 1 and len(ws.files) == 3
    assert deploy(capsys, ws, project).code == 0 and len(ws.pipelines) == 1


def test_two_pipelines_with_the_name_are_refused_not_made_three(capsys, ws, project):
    for pipeline_id in ("pipe-0101", "pipe-0102"):
        ws.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "name": NAME, "state": "IDLE", "creator_user_name": "bob",
                                     "spec": {"name": NAME}}
    result = deploy(capsys, ws, project)
    assert result.code != 0
    assert f"2 pipelines are named {NAME!r} (pipe-0101, pipe-0102); delete all but one" in result.err
    assert writes(ws) == []


# -- --start --wait ------------------------------------------------------------------------------------
def test_start_wait_follows_the_update_to_completion(capsys, ws, project):
    result = deploy(capsys, ws, project, "--start", "--full-refresh", "--wait", "--poll-interval", "0")
    assert result.code == 0, result.err
    states = [line.split(": ")[1] for line in result.out.splitlines() if line.startswith("update upd-")]
    assert states == ["QUEUED", "INITIALIZING", "RUNNING", "COMPLETED"]  # one line per state change
    assert "  flow people_clean: Flow 'people_clean' is RUNNING." in result.out
    assert ws.calls("POST", "/updates$")[0].body == {"full_refresh": True}


def test_start_wait_on_a_failing_update_prints_the_pipelines_error(capsys, ws, project):
    ws.fail_next_update = "[TABLE_OR_VIEW_NOT_FOUND] The table `people_queue` cannot be found."
    result = deploy(capsys, ws, project, "--start", "--wait", "--poll-interval", "0")
    assert result.code != 0 and "Traceback" not in result.err
    assert "update upd-" in result.out and result.out.rstrip().splitlines()[-2].endswith(": FAILED")
    assert ("FAILED: [TABLE_OR_VIEW_NOT_FOUND] The table `people_queue` cannot be found." in result.err)


# -- destroy ---------------------------------------------------------------------------------------------
def test_destroy_leaves_nothing_of_the_pipeline(capsys, ws, project):
    assert deploy(capsys, ws, project).code == 0
    args = ("dlt", "destroy", "streaming_append", "--env", "dev", "-c", str(project))
    ws.requests.clear()
    dry = run(capsys, ws, *args, "--dry-run")
    assert dry.code == 0 and writes(ws) == [] and f"would delete pipeline {NAME!r} (pipe-0001)" in dry.out
    assert f"would delete {FOLDER}/ (empty)" in dry.out
    result = run(capsys, ws, *args)
    assert result.code == 0, result.err
    assert ws.pipelines == {} and ws.files == {}
    assert not [f for f in ws.folders if f.startswith(FOLDER)]
    assert "/Workspace/Shared/lakeport" in ws.folders  # not deploy's alone: kept


def test_destroy_keeps_what_deploy_did_not_put_there(capsys, ws, project):
    assert deploy(capsys, ws, project).code == 0
    ws.files[f"{FOLDER}/notes.md"] = b"mine"
    result = run(capsys, ws, "dlt", "destroy", "streaming_append", "--env", "dev", "-c", str(project))
    assert result.code == 0, result.err
    assert ws.files == {f"{FOLDER}/notes.md": b"mine"} and ws.pipelines == {}
    assert f"kept {FOLDER}/: it holds 1 thing(s) deploy did not put there" in result.out


# -- settings ------------------------------------------------------------------------------------------------
SETTINGS = """
[env.dev.vars]
owner = "data-team"

[tables.people_queue]
kind = "files"
path = "/tmp/people"

[pipelines.people]
kind = "dlt"
code = "streaming_append.py"
target_schema = "people"

[[pipelines.people.datasets]]
func = "transform"
name = "people_clean"
source = "people_queue"

[pipelines.people.deploy]
serverless = true
catalog = "main"
dependencies = ["lakeport-dlt==0.1.0"]
configuration = { "source.password" = "${env:PEOPLE_PASSWORD}", region = "eu" }
notifications = [{ email_recipients = ["oncall@example.com"], alerts = ["on-update-failure"] }]
permissions = [{ group_name = "{owner}", level = "CAN_MANAGE" }]
run_as = { service_principal_name = "sp-pipelines" }
"""


@pytest.fixture
def settings_project(tmp_path):
    (tmp_path / "streaming_append.py").write_text("def transform(df):\n    return df\n")
    path = tmp_path / "lakeport.toml"
    path.write_text(SETTINGS)
    return path


def test_every_setting_reaches_the_api_and_secrets_stay_out_of_the_output(capsys, ws, settings_project, monkeypatch):
    monkeypatch.setenv("PEOPLE_PASSWORD", "s3cret-value")
    args = ("dlt", "deploy", "people", "--env", "dev", "-c", str(settings_project))
    result = run(capsys, ws, *args)
    assert result.code == 0, result.err
    [create] = ws.calls("POST", "^/api/2.0/pipelines$")
    body = create.body
    assert body["serverless"] is True and "clusters" not in body
    assert body["environment"] == {"dependencies": ["lakeport-dlt==0.1.0"]}
    assert body["configuration"]["source.password"] == "s3cret-value" and body["configuration"]["region"] == "eu"
    assert body["notifications"] == [{"email_recipients": ["oncall@example.com"], "alerts": ["on-update-failure"]}]
    assert body["run_as"] == {"service_principal_name": "sp-pipelines"}
    assert body["schema"] == "people"
    assert ws.permissions["pipe-0001"] == [{"group_name": "data-team", "permission_level": "CAN_MANAGE"}]
    # a second deploy: nothing to write, permissions included
    ws.requests.clear()
    assert run(capsys, ws, *args).code == 0 and writes(ws) == []
    monkeypatch.setenv("PEOPLE_PASSWORD", "s3cret-other")
    dry = run(capsys, ws, *args, "--dry-run")
    assert "    configuration.source.password: (a secret) changed" in dry.out
    assert "s3cret" not in dry.out + dry.err


@pytest.mark.parametrize(("deploy_keys", "problem"), [
    ('schema = "a"\ntarget = "b"', "pipelines.people.deploy: schema and target both set"),
    ('serverless = true\nclusters = [{ num_workers = 1 }]', "pipelines.people.deploy: serverless = true with clusters"),
    ('libraries = [{ glob = "/Workspace/x/**" }, { file = "/Workspace/y.py" }]',
     "pipelines.people.deploy.libraries: glob libraries with file or notebook libraries"),
    ('[pipelines.people.deploy.env.dev]\nserverless = true\nclusters = [{ num_workers = 1 }]',
     "pipelines.people.deploy.env.dev: serverless = true with clusters"),
    ('edition = "GOLD"', "pipelines.people.deploy.edition: expected one of CORE, PRO, ADVANCED"),
    ('clusterz = []', "pipelines.people.deploy: unknown key(s) clusterz"),
])
def test_conflicting_or_unknown_settings_are_config_errors_before_any_call(capsys, ws, settings_project, deploy_keys,
                                                                           problem):
    text = SETTINGS.split("[pipelines.people.deploy]")[0] + "[pipelines.people.deploy]\n" + deploy_keys + "\n"
    settings_project.write_text(text)
    result = run(capsys, ws, "dlt", "deploy", "people", "--env", "dev", "-c", str(settings_project))
    assert result.code == 2
    assert problem in result.err
    assert ws.requests == []


def test_wheels_are_uploaded_and_become_libraries_beside_glob_sources(capsys, ws, settings_project):
    wheel = settings_project.parent / "dist" / "people_jobs-0.1-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK fake wheel")
    text = SETTINGS.split("[pipelines.people.deploy]")[0] + (
        '[pipelines.people.deploy]\nwheels = ["dist/people_jobs-0.1-py3-none-any.whl"]\n'
        'libraries = [{ glob = "/Workspace/Shared/extra/**" }, { maven = "org.example:lib:1.0" }]\n')
    settings_project.write_text(text)
    result = run(capsys, ws, "dlt", "deploy", "people", "--env", "dev", "-c", str(settings_project))
    assert result.code == 0, result.err
    folder = "/Workspace/Shared/lakeport/people_dev"
    assert ws.files[f"{folder}/wheels/people_jobs-0.1-py3-none-any.whl"] == b"PK fake wheel"
    assert ws.calls("POST", "^/api/2.0/pipelines$")[0].body["libraries"] == [
        {"glob": {"include": f"{folder}/people_pipeline.py"}},  # the rendered source, in the user's form
        {"glob": {"include": "/Workspace/Shared/extra/**"}},
        {"maven": {"coordinates": "org.example:lib:1.0"}},
        {"whl": f"{folder}/wheels/people_jobs-0.1-py3-none-any.whl"},
    ]


def test_no_credentials_is_one_line_saying_so(capsys, ws, project, monkeypatch):
    monkeypatch.delenv("DATABRICKS_HOST")
    monkeypatch.delenv("DATABRICKS_TOKEN")
    result = deploy(capsys, ws, project)
    assert result.code != 0 and "Traceback" not in result.err
    assert "error: cannot authenticate to Databricks: " in result.err
    assert ws.requests == []


def test_deploy_without_an_environment_says_to_name_one(capsys, ws, project):
    result = run(capsys, ws, "dlt", "deploy", "streaming_append", "-c", str(project))
    assert result.code == 2 and "name the environment with --env ENV" in result.err
    assert ws.requests == []


@pytest.mark.parametrize("where", ["--profile", "settings"])
def test_a_profile_from_databrickscfg_is_used(capsys, ws, project, tmp_path, monkeypatch, where):
    monkeypatch.delenv("DATABRICKS_HOST")
    monkeypatch.delenv("DATABRICKS_TOKEN")
    config = tmp_path / "databrickscfg"
    config.write_text(f"[lab]\nhost = {ws.url}\ntoken = {ws.token}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    if where == "settings":
        edit(project, "development = true\n", 'development = true\nprofile = "lab"\n')
    result = deploy(capsys, ws, project, *(["--profile", "lab"] if where == "--profile" else []))
    assert result.code == 0, result.err
    assert len(ws.pipelines) == 1


def test_neither_loading_plugins_nor_deploying_imports_pyspark_and_plugins_skips_the_sdk(ws, project):
    script = (
        "import sys\n"
        "from lakeport.cli import main\n"
        "assert main(['plugins']) == 0\n"
        "assert 'databricks.sdk' not in sys.modules, 'lakeport plugins imported databricks-sdk'\n"
        f"assert main(['dlt', 'deploy', 'streaming_append', '--env', 'dev', '-c', {str(project)!r}, '--dry-run']) == 0\n"
        "assert not [m for m in sys.modules if m.startswith('pyspark')], 'deploy imported pyspark'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert "pipeline: create" in done.stdout
