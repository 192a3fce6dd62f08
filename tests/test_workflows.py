"""The GitHub Actions workflows are valid (schema check, offline) and follow the policy:
pull requests build without secrets, only the main branch deploys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
VALIDATE = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VALIDATE, *map(str, files)], capture_output=True, text=True)


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on:` as True
    return document


def test_workflows_pass_the_schema_check():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {
        "pull-request.yml",
        "deploy.yml",
        "execute-sharded.yml",
        "verify-backends.yml",
    }
    checked = validate(*files)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pull_request\njobs:\n  build:\n    steps: []\n")  # no runs-on
    assert validate(broken).returncode != 0


def test_pull_requests_build_without_secrets():
    text = (WORKFLOWS / "pull-request.yml").read_text()
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert "secrets." not in text
    assert workflow["permissions"] == {"contents": "read"}
    steps = workflow["jobs"]["test-and-build"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "bash .ci/run" in runs and "make site" in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)
    for name in ("pull-request.yml", "deploy.yml", "execute-sharded.yml", "verify-backends.yml"):
        assert "pull_request_target" not in load(name)["on"]


def test_only_main_deploys_to_pages():
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    uses = [step.get("uses", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/deploy-pages") for u in uses)


def test_pull_requests_reexecute_changed_results_against_the_base_branch():
    steps = load("pull-request.yml")["jobs"]["test-and-build"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    runs = [step.get("run", "") for step in steps]
    tests = next(i for i, run in enumerate(runs) if "bash .ci/run" in run)
    verify = next(i for i, run in enumerate(runs) if "make verify-results" in run)
    assert tests < verify
    assert 'REF="origin/$BASE_REF"' in runs[verify]
    assert steps[verify]["env"] == {"BASE_REF": "${{ github.base_ref }}"}


def test_sharded_execution_runs_each_shard_then_builds_from_their_results():
    workflow = load("execute-sharded.yml")
    assert workflow["permissions"] == {"contents": "read"}
    execute, gather = workflow["jobs"]["execute"], workflow["jobs"]["gather-and-build"]
    shards = execute["strategy"]["matrix"]["shard"]
    runs = " ".join(step.get("run", "") for step in execute["steps"])
    assert f'prepare --shard "$SHARD/{len(shards)}"' in runs
    assert shards == list(range(1, len(shards) + 1))
    assert gather["needs"] == "execute"
    download = next(s for s in gather["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["merge-multiple"] is True
    check = next(s for s in gather["steps"] if "dlexec prepare" in s.get("run", ""))
    assert check["env"] == {"BLOG_EXECUTE": "never"}  # every result must now be fresh


def test_the_backend_matrix_runs_on_snippet_changes_and_weekly_without_secrets():
    text = (WORKFLOWS / "verify-backends.yml").read_text()
    workflow = load("verify-backends.yml")
    assert "secrets." not in text and workflow["permissions"] == {"contents": "read"}
    assert "snippets/**" in workflow["on"]["pull_request"]["paths"]
    assert workflow["on"]["schedule"]
    steps = workflow["jobs"]["verify"]["steps"]
    runs = [step.get("run", "") for step in steps]
    verify = next(i for i, run in enumerate(runs) if "make verify" in run)
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in runs[verify]  # no CUDA wheels
    assert "git diff --exit-code" in runs[verify + 1]  # the committed matrix must be current
