"""The GitHub Actions workflows are valid (schema check, offline) and follow the policy:
pull requests build without secrets, only the main branch deploys, every install uses pip's
cache, a new push cancels the pull request's superseded run, and tokens are read-only except
the deploy job's."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW_NAMES = ("pull-request.yml", "deploy.yml", "execute-sharded.yml", "verify-backends.yml")
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
    for name in WORKFLOW_NAMES:
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
    verifies = [i for i, run in enumerate(runs) if run.startswith("make verify")]
    for verify in verifies:  # no CUDA wheels
        assert "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in runs[verify]
    # A pull request's changed records are re-run and compared, not trusted for their key.
    by_event = {steps[i].get("if", ""): runs[i] for i in verifies}
    assert "--recheck origin/$BASE_REF" in by_event["github.event_name == 'pull_request'"]
    assert "--recheck" not in by_event["github.event_name != 'pull_request'"]
    assert "git diff --exit-code" in runs[verifies[-1] + 1]  # the committed matrix is current


# -- pip cache, concurrency, permissions ----------------------------------------------------------
# Each check returns its findings (empty: the workflow follows the policy), so that the tests
# below can also show that a check catches the mistake it is there for.

# A run step that installs the project: pip itself, or make (every target but `clean` creates
# .venv and pip-installs into it) or .ci/run (which runs `make test`).
INSTALLS = re.compile(r"\bpip\b|\bmake\b|\.ci/run\b")
CANCEL_PULL_REQUESTS = {True, "${{ github.event_name == 'pull_request' }}"}


def triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def uses(step: dict, action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def pip_cache_findings(workflow: dict) -> list[str]:
    """Every job that installs the project first sets Python up with pip's cache, keyed on the
    pinned dependencies (actions/setup-python's built-in cache, not a home-made one)."""
    findings = []
    for name, job in workflow["jobs"].items():
        steps = job.get("steps", [])
        installs = [i for i, step in enumerate(steps) if INSTALLS.search(step.get("run", ""))]
        if not installs:
            continue
        setups = [i for i, step in enumerate(steps) if uses(step, "actions/setup-python")]
        if not setups or setups[0] > installs[0]:
            findings.append(f"{name}: installs before actions/setup-python")
            continue
        options = steps[setups[0]].get("with", {})
        if options.get("cache") != "pip":
            findings.append(f"{name}: actions/setup-python without `cache: pip`")
        keyed_on = set(str(options.get("cache-dependency-path", "")).split())
        for pinned in ("requirements.lock", "pyproject.toml"):
            if pinned not in keyed_on:
                findings.append(f"{name}: the pip cache's key ignores {pinned}")
    return findings


def concurrency_findings(workflow: dict) -> list[str]:
    """A pull request's new push cancels its superseded run of the same workflow."""
    if "pull_request" not in triggers(workflow):
        return []
    concurrency = workflow.get("concurrency")
    if not isinstance(concurrency, dict):
        return ["no concurrency group"]
    findings = []
    group = str(concurrency.get("group", ""))
    if "github.workflow" not in group:
        findings.append(f"group {group!r} is shared with other workflows")
    if not re.search(r"github\.event\.pull_request\.number|github\.ref\b", group):
        findings.append(f"group {group!r} is not one per pull request")
    if concurrency.get("cancel-in-progress") not in CANCEL_PULL_REQUESTS:
        findings.append("a new push does not cancel the superseded run")
    return findings


def permission_findings(workflow: dict, writers: dict[str, dict[str, str]]) -> list[str]:
    """The token is read-only by default; only the jobs in `writers` get exactly those write
    permissions (a job's `permissions:` replaces the workflow's, it does not add to them)."""
    top = workflow.get("permissions")
    findings = [] if top == {"contents": "read"} else [f"workflow permissions: {top!r}"]
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", top)
        if name in writers:
            if granted != writers[name]:
                findings.append(f"{name}: {granted!r}, expected {writers[name]!r}")
        elif not isinstance(granted, dict) or set(granted.values()) - {"read", "none"}:
            findings.append(f"{name}: may write ({granted!r})")
    return findings


DEPLOY_WRITERS = {"deploy": {"pages": "write", "id-token": "write"}}


def writers_of(name: str) -> dict[str, dict[str, str]]:
    return DEPLOY_WRITERS if name == "deploy.yml" else {}


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_install_uses_the_setup_python_pip_cache(name: str):
    workflow = load(name)
    assert pip_cache_findings(workflow) == []
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    assert any(INSTALLS.search(step.get("run", "")) for step in steps)  # all four install
    # One pip cache: the action's own, not a second actions/cache of the same folder.
    for step in steps:
        if uses(step, "actions/cache"):
            assert "pip" not in str(step.get("with", {}).get("path", ""))


def test_actions_are_pinned_to_one_major_version_each():
    pinned: dict[str, set[str]] = {}
    for name in WORKFLOW_NAMES:
        for job in load(name)["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    action, _, version = step["uses"].partition("@")
                    assert re.fullmatch(r"v\d+", version), step["uses"]
                    pinned.setdefault(action, set()).add(version)
    assert {action: versions for action, versions in pinned.items() if len(versions) > 1} == {}


def test_the_backend_matrix_keeps_its_own_pip_cache():
    """It also installs PyTorch: sharing the other workflows' key, one would shadow the other."""
    keys = {
        name: str(step["with"]["cache-dependency-path"]).split()
        for name in WORKFLOW_NAMES
        for job in load(name)["jobs"].values()
        for step in job.get("steps", [])
        if uses(step, "actions/setup-python")
    }
    assert ".github/workflows/verify-backends.yml" in keys.pop("verify-backends.yml")
    assert {tuple(key) for key in keys.values()} == {("requirements.lock", "pyproject.toml")}


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_a_new_push_cancels_the_superseded_pull_request_run(name: str):
    assert concurrency_findings(load(name)) == []


def test_both_pull_request_workflows_are_cancelled_when_superseded():
    on_pull_requests = [n for n in WORKFLOW_NAMES if "pull_request" in triggers(load(n))]
    assert on_pull_requests == ["pull-request.yml", "verify-backends.yml"]
    # The weekly and hand-started runs of the backend matrix are never cancelled.
    cancel = load("verify-backends.yml")["concurrency"]["cancel-in-progress"]
    assert cancel == "${{ github.event_name == 'pull_request' }}"


def test_a_deployment_in_progress_is_never_cancelled():
    assert load("deploy.yml")["concurrency"] == {"group": "pages", "cancel-in-progress": False}


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_tokens_are_read_only_but_for_the_deploy_job(name: str):
    assert permission_findings(load(name), writers_of(name)) == []


def test_only_the_deploy_job_can_publish_to_pages():
    workflow = load("deploy.yml")
    assert workflow["permissions"] == {"contents": "read"}
    assert "write" not in workflow["jobs"]["build"].get("permissions", {}).values()
    assert workflow["jobs"]["deploy"]["permissions"] == DEPLOY_WRITERS["deploy"]
    deploy_uses = [step.get("uses", "") for step in workflow["jobs"]["deploy"]["steps"]]
    assert [u.split("@")[0] for u in deploy_uses] == ["actions/deploy-pages"]  # runs no repo code


def test_deploy_says_pages_must_use_the_github_actions_source():
    header = (WORKFLOWS / "deploy.yml").read_text().split("\nname:")[0]
    assert "Settings → Pages" in header and '"GitHub Actions"' in header


def _drop_cache(w: dict) -> None:
    del w["jobs"]["test-and-build"]["steps"][1]["with"]["cache"]


def _key_on_lock_only(w: dict) -> None:
    w["jobs"]["test-and-build"]["steps"][1]["with"]["cache-dependency-path"] = "requirements.lock"


def _no_concurrency(w: dict) -> None:
    del w["concurrency"]


def _never_cancel(w: dict) -> None:
    w["concurrency"]["cancel-in-progress"] = False


def _one_group_for_all(w: dict) -> None:
    w["concurrency"]["group"] = "ci-${{ github.ref }}"


def _workflow_writes(w: dict) -> None:
    w["permissions"] = "write-all"


def _job_writes(w: dict) -> None:
    w["jobs"]["test-and-build"]["permissions"] = {"contents": "write"}


@pytest.mark.parametrize(
    "break_it, check",
    [
        (_drop_cache, pip_cache_findings),
        (_key_on_lock_only, pip_cache_findings),
        (_no_concurrency, concurrency_findings),
        (_never_cancel, concurrency_findings),
        (_one_group_for_all, concurrency_findings),
        (_workflow_writes, lambda w: permission_findings(w, {})),
        (_job_writes, lambda w: permission_findings(w, {})),
    ],
)
def test_the_checks_catch_a_broken_pull_request_workflow(
    break_it: Callable[[dict], None], check: Callable[[dict], list[str]]
):
    workflow = copy.deepcopy(load("pull-request.yml"))
    assert uses(workflow["jobs"]["test-and-build"]["steps"][1], "actions/setup-python")
    assert check(workflow) == []
    break_it(workflow)
    assert check(workflow) != []


def test_the_checks_catch_pages_write_given_to_the_build_job():
    workflow = copy.deepcopy(load("deploy.yml"))
    workflow["permissions"] = {"contents": "read", "pages": "write", "id-token": "write"}
    del workflow["jobs"]["deploy"]["permissions"]  # the layout before: every job could publish
    findings = permission_findings(workflow, DEPLOY_WRITERS)
    assert any(f.startswith("workflow permissions") for f in findings)
    assert any(f.startswith("build: may write") for f in findings)
