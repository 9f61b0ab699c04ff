"""The examples' pipelines, run for real by gitlab-ci-local against the sandbox (`make e2e`).

Each job is a shell job on this machine, on a bare Python: the components' scripts install
mlflow-gitlab from the sandbox's PyPI registry (where the release job's command published this
checkout's wheel) and the examples' requirements from PyPI, track to the sandbox as to GitLab,
upload outputs and release. The
sandbox runs with `register_unknown_jobs`, because gitlab-ci-local picks random job ids.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlflow_gitlab import __version__
from mlflow_gitlab.sandbox import Sandbox, Settings, running_sandbox
from tests.cli import mlflow_gitlab
from tests.e2e.harness import (
    GITLAB_CI_LOCAL,
    REPOSITORY_PROJECT,
    ROOT,
    Checkout,
    PipelineResult,
)
from tests.e2e.release_setup import (
    build_wheel,
    index_url,
    installed,
    publish,
    publish_catalog,
    publish_repository,
    uv_on_the_image,
)

pytestmark = pytest.mark.e2e

TUNE_JOBS = {f"mlflow-tune: [{c},{w}]" for c in ("0.05", "1") for w in ("none", "balanced")}
SKLEARN_OUTPUTS = {"manifest.json", "outputs%2Fmodel%2FMLmodel"}  # the examples' saved model
QUICKSTART_OUTPUTS = {"manifest.json", "outputs%2Fmodel.json"}  # OUTPUT_DIR=outputs

# examples/quickstart's pipeline with the files of templates/ (`include: project:` + `inputs:`)
PROJECT_INCLUDE_CI = f"""\
include:
  - project: {REPOSITORY_PROJECT}
    ref: {__version__}
    file: templates/train.yml
    inputs:
      experiment: quickstart
      command: OUTPUT_DIR=outputs python train.py
      artifacts: outputs
  - project: {REPOSITORY_PROJECT}
    ref: {__version__}
    file: templates/release.yml
    inputs:
      model: quickstart-line
      experiment: quickstart
      metric: final_loss
"""

# the same with the classic templates: every hidden job extended, inputs as variables
CLASSIC_TEMPLATES_CI = f"""\
include:
  - project: {REPOSITORY_PROJECT}
    ref: {__version__}
    file: templates/mlflow-gitlab.yml

train:
  extends: .mlflow-gitlab-train
  variables:
    MLFLOW_GITLAB_JOB_EXPERIMENT: quickstart
    MLFLOW_GITLAB_RUN_ARTIFACTS: outputs
    OUTPUT_DIR: outputs

tune:
  extends: .mlflow-gitlab-tune
  variables:
    MLFLOW_GITLAB_JOB_EXPERIMENT: quickstart
    MLFLOW_GITLAB_RUN_ARTIFACTS: outputs
    OUTPUT_DIR: outputs
  parallel:
    matrix:
      - LEARNING_RATE: ["0.05", "0.2"]

report:
  extends: .mlflow-gitlab-report
  variables:
    MLFLOW_GITLAB_JOB_EXPERIMENT: quickstart
    MLFLOW_GITLAB_JOB_METRIC: final_loss
    MLFLOW_GITLAB_REPORT_MODEL: quickstart-line

release:
  extends: .mlflow-gitlab-release
  variables:
    MLFLOW_GITLAB_JOB_MODEL: quickstart-line
    MLFLOW_GITLAB_JOB_EXPERIMENT: quickstart
    MLFLOW_GITLAB_RELEASE_METRIC: final_loss
"""




def docs_child_pipeline_example() -> str:
    """The `tune-plan` and `tune` jobs of docs/components.md's child-pipeline example."""
    text = (ROOT / "docs" / "components.md").read_text()
    section = text.split("### Larger spaces: a child pipeline sampled per pipeline", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


# examples/mr-tuning with its fan-out in a child pipeline, as the docs show it
CHILD_PIPELINE_CI = f"""\
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"

include:
  - component: $CI_SERVER_FQDN/mlflow-gitlab/components/report@{__version__}
    inputs:
      experiment: wine-classifier
      model: wine-classifier
      metric: val_accuracy
      mode: max
  - component: $CI_SERVER_FQDN/mlflow-gitlab/components/release@{__version__}
    inputs:
      model: wine-classifier
      experiment: wine-classifier
      metric: val_accuracy
      mode: max

{docs_child_pipeline_example()}"""


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("release") / "dist")  # `dist/*`, as the job


@pytest.fixture
def e2e_sandbox(tmp_path: Path, wheel: Path):
    if not GITLAB_CI_LOCAL.exists():
        pytest.fail(f"{GITLAB_CI_LOCAL} is missing: run `make e2e`, which installs it")
    with running_sandbox(tmp_path / "sandbox-data", Settings(register_unknown_jobs=True)) as sb:
        publish(sb, wheel.parent)
        publish_catalog(sb)  # users include the components from it
        yield sb


@pytest.fixture
def repository_sandbox(e2e_sandbox: Sandbox) -> Sandbox:
    """The e2e sandbox with the mlflow-gitlab repository pushed at its release tag, for
    `include: project:`."""
    publish_repository(e2e_sandbox, REPOSITORY_PROJECT)
    return e2e_sandbox


def merge_request_variables(sandbox: Sandbox, source_branch: str) -> dict[str, str]:
    """What GitLab adds in a detached MR pipeline for the seeded MR !1 (its predefined
    `CI_MERGE_REQUEST_*` variables)."""
    project = str(sandbox.project_id)
    return {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "1",
            "CI_MERGE_REQUEST_ID": "301", "CI_MERGE_REQUEST_PROJECT_ID": project,
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": project,
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": source_branch,
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_EVENT_TYPE": "detached"}


def fork_merge_request_variables(sandbox: Sandbox, source_branch: str) -> dict[str, str]:
    """A fork's MR pipeline runs in the fork: the fork's project id, none of the parent's
    CI/CD variables (no MLFLOW_TRACKING_TOKEN, unset by the caller)."""
    fork = "4242"
    return {**merge_request_variables(sandbox, source_branch), "CI_PROJECT_ID": fork,
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": fork,
            "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": "contributor/demo-project"}


def side_effects(sandbox: Sandbox) -> dict[str, int]:
    """What a pipeline leaves in GitLab: runs, generic packages, notes, model versions."""
    store = sandbox.app.store
    return {table: store.one(f"SELECT COUNT(*) AS n FROM {table}{where}")["n"]
            for table, where in (("candidates", ""), ("notes", ""), ("model_versions", ""),
                                 ("packages", " WHERE package_type = 'generic'"))}


def assert_jobs(result: PipelineResult, passed: set[str], allowed_to_fail: set[str] = frozenset()):
    assert result.returncode == 0, result.output[-4000:]
    jobs = {name: status for name, status in result.results.items() if name in result.job_ids}
    assert set(jobs) == passed | allowed_to_fail, result.output[-4000:]
    assert all(jobs[name] == "PASS" for name in passed), jobs


def assert_runs_tagged_and_uploaded(sandbox: Sandbox, result: PipelineResult,
                                    jobs: set[str], outputs: set[str] = SKLEARN_OUTPUTS
                                    ) -> None:
    """One run per training job, tagged with the job id gitlab-ci-local gave that job, linked
    to it as GitLab links runs (`ci_build_id`), with its outputs in the run's package."""
    store = sandbox.app.store
    for name in jobs:
        job_id = result.job_ids[name]
        runs = store.all("SELECT c.id, c.eid, c.status, c.ci_build_id, c.experiment_id "
                         "FROM candidates c JOIN candidate_tags t ON t.candidate_id = c.id "
                         "WHERE t.key = 'gitlab.CI_JOB_ID' AND t.value = ?", str(job_id))
        assert len(runs) == 1, (name, job_id)
        run = runs[0]
        assert (run["status"], run["ci_build_id"]) == ("finished", job_id)
        tags = {row["key"]: row["value"] for row in store.all(
            "SELECT key, value FROM candidate_tags WHERE candidate_id = ?", run["id"])}
        assert tags["gitlab.CI_JOB_NAME"] == name
        assert tags["gitlab.CI_PIPELINE_ID"] == str(result.pipeline_id)
        job = store.one("SELECT name, pipeline_id FROM jobs WHERE id = ?", job_id)
        assert (job["name"], job["pipeline_id"]) == (name, result.pipeline_id)
        files = {row["file_name"] for row in store.all(
            "SELECT f.file_name FROM packages p JOIN package_files f ON f.package_id = p.id "
            "WHERE p.package_type = 'generic' AND p.version = ?", run["eid"])}
        assert outputs <= files, (name, files)


def versions(sandbox: Sandbox, model: str) -> list[str]:
    rows = sandbox.app.store.all(
        "SELECT v.version FROM model_versions v JOIN models m ON m.id = v.model_id "
        "WHERE m.name = ? ORDER BY v.id", model)
    return [row["version"] for row in rows]


def released(checkout: Checkout) -> dict[str, str]:
    """The release job's dotenv report, as later jobs would receive it."""
    path = (checkout.root / ".gitlab-ci-local" / "artifacts" / "mlflow-release"
            / ".gitlab-ci-reports" / "dotenv" / "mlflow-release.env")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_mr_tuning_releases_on_main_and_prereleases_the_best_candidate_in_an_mr(
        e2e_sandbox: Sandbox, tmp_path: Path):
    checkout = Checkout("mr-tuning", tmp_path, e2e_sandbox)

    branch = checkout.run({})
    assert_jobs(branch, {"mlflow-train", "mlflow-release"})
    assert_runs_tagged_and_uploaded(e2e_sandbox, branch, {"mlflow-train"})
    assert versions(e2e_sandbox, "wine-classifier") == ["1.0.0"]
    assert released(checkout)["MODEL_VERSION"] == "1.0.0"

    checkout.branch("tune-wine")
    mr = checkout.run(merge_request_variables(e2e_sandbox, "tune-wine"),
                      unset=("CI_COMMIT_BRANCH",))
    assert_jobs(mr, TUNE_JOBS | {"mlflow-release", "mlflow-report"})
    assert_runs_tagged_and_uploaded(e2e_sandbox, mr, TUNE_JOBS)
    assert versions(e2e_sandbox, "wine-classifier") == ["1.0.0", "1.0.1-mr.1.1"]
    assert released(checkout)["MODEL_VERSION"] == "1.0.1-mr.1.1"
    notes = [row["body"] for row in e2e_sandbox.app.store.all("SELECT body FROM notes")]
    assert len(notes) == 1 and notes[0].startswith(  # one note on the MR, linking each job
        "<!-- mlflow-gitlab:report model=wine-classifier -->"), notes
    assert all(f"/-/jobs/{mr.job_ids[name]})" in notes[0] for name in TUNE_JOBS), notes[0]

    before = side_effects(e2e_sandbox)
    train = checkout.run({**merge_request_variables(e2e_sandbox, "tune-wine"),
                          "CI_MERGE_REQUEST_EVENT_TYPE": "merge_train"},
                         unset=("CI_COMMIT_BRANCH",))
    # A train attempt repeats no fan-out, note or prerelease (the MR pipeline made them).
    assert_jobs(train, set())
    assert side_effects(e2e_sandbox) == before


def test_a_fork_merge_request_pipeline_ends_green_without_side_effects(
        e2e_sandbox: Sandbox, tmp_path: Path):
    checkout = Checkout("mr-tuning", tmp_path, e2e_sandbox)
    checkout.branch("tune-wine")
    before = side_effects(e2e_sandbox)
    fork = checkout.run(fork_merge_request_variables(e2e_sandbox, "tune-wine"),
                        unset=("CI_COMMIT_BRANCH", "MLFLOW_TRACKING_TOKEN"))
    # The fork's jobs run the command untracked, report and release nothing, and pass.
    assert_jobs(fork, TUNE_JOBS | {"mlflow-report", "mlflow-release"})
    assert side_effects(e2e_sandbox) == before


def test_the_docs_child_pipeline_fans_out_and_the_parent_reports_its_runs(
        e2e_sandbox: Sandbox, tmp_path: Path):
    checkout = Checkout("mr-tuning", tmp_path, e2e_sandbox, CHILD_PIPELINE_CI)
    checkout.branch("tune-wine")
    # uv as the example's image has it; the registry serving mlflow-gitlab as the docs say
    mr = checkout.run({**merge_request_variables(e2e_sandbox, "tune-wine"),
                       "UV_INDEX": index_url(e2e_sandbox)},
                      unset=("CI_COMMIT_BRANCH",), tools=uv_on_the_image(), timeout=420)
    child_jobs = {f"tune: [{c},{w}]" for c in ("0.05", "1") for w in ("none", "balanced")}
    assert_jobs(mr, {"tune-plan", "mlflow-report", "mlflow-release", *child_jobs})
    assert mr.results["tune"] == "PASS"  # the trigger job, which took the child's status
    store = e2e_sandbox.app.store
    for name in child_jobs:  # the child's pipeline id, the parent's too, and the MR
        (run,) = store.all("SELECT c.id, c.status FROM candidates c JOIN candidate_tags t "
                           "ON t.candidate_id = c.id WHERE t.key = 'gitlab.CI_JOB_ID' "
                           "AND t.value = ?", str(mr.job_ids[name]))
        tags = {row["key"]: row["value"] for row in store.all(
            "SELECT key, value FROM candidate_tags WHERE candidate_id = ?", run["id"])}
        assert run["status"] == "finished" and tags["gitlab.CI_JOB_NAME"] == name
        assert tags["gitlab.pipeline_kind"] == "parent_pipeline"
        assert tags["gitlab.CI_PIPELINE_ID"] != str(mr.pipeline_id)
        assert tags["gitlab.PARENT_PIPELINE_ID"] == str(mr.pipeline_id)
        assert tags["gitlab.CI_MERGE_REQUEST_IID"] == "1"
    # The parent's report compares the child's runs, and its release prereleases the best.
    (note,) = [row["body"] for row in store.all("SELECT body FROM notes")]
    assert "4 finished runs" in note, note
    assert all(f"/-/jobs/{mr.job_ids[name]})" in note for name in child_jobs), note
    assert versions(e2e_sandbox, "wine-classifier") == ["1.0.0-mr.1.1"]


def test_scheduled_retrain_releases_a_patch_per_scheduled_pipeline(
        e2e_sandbox: Sandbox, tmp_path: Path):
    checkout = Checkout("scheduled-retrain", tmp_path, e2e_sandbox)

    push = checkout.run({})
    assert_jobs(push, {"mlflow-train"})  # a push trains; only schedules release
    # The job's bare Python got the published wheel and mlflow-skinny, nothing of this venv's.
    packages = installed(checkout.python)
    assert packages["mlflow-gitlab"] == __version__ and "mlflow-skinny" in packages, packages
    assert "mlflow" not in packages and "pytest" not in packages, packages
    assert versions(e2e_sandbox, "diabetes-regressor") == []

    for expected in (["1.0.0"], ["1.0.0", "1.0.1"]):
        scheduled = checkout.run({"CI_PIPELINE_SOURCE": "schedule"})
        assert_jobs(scheduled, {"mlflow-train", "mlflow-release"})
        assert_runs_tagged_and_uploaded(e2e_sandbox, scheduled, {"mlflow-train"})
        assert versions(e2e_sandbox, "diabetes-regressor") == expected
        assert released(checkout)["MODEL_VERSION"] == expected[-1]


def test_project_include_of_the_repository_templates_trains_and_releases(
        repository_sandbox: Sandbox, tmp_path: Path):
    checkout = Checkout("quickstart", tmp_path, repository_sandbox, PROJECT_INCLUDE_CI)
    push = checkout.run({})
    assert_jobs(push, {"mlflow-train", "mlflow-release"})
    assert_runs_tagged_and_uploaded(repository_sandbox, push, {"mlflow-train"},
                                    QUICKSTART_OUTPUTS)
    # the file installed the release it belongs to, from the instance's registry
    assert installed(checkout.python)["mlflow-gitlab"] == __version__
    assert versions(repository_sandbox, "quickstart-line") == ["1.0.0"]
    assert released(checkout)["MODEL_VERSION"] == "1.0.0"


def test_classic_templates_extended_by_jobs_tune_report_and_prerelease_in_an_mr(
        repository_sandbox: Sandbox, tmp_path: Path):
    checkout = Checkout("quickstart", tmp_path, repository_sandbox, CLASSIC_TEMPLATES_CI)
    checkout.branch("tune-quickstart")
    mr = checkout.run(merge_request_variables(repository_sandbox, "tune-quickstart"),
                      unset=("CI_COMMIT_BRANCH",))
    tune_jobs = {"tune: [0.05]", "tune: [0.2]"}
    assert_jobs(mr, {"train", "report", "release", *tune_jobs})
    assert_runs_tagged_and_uploaded(repository_sandbox, mr, {"train", *tune_jobs},
                                    QUICKSTART_OUTPUTS)
    assert installed(checkout.python)["mlflow-gitlab"] == __version__
    assert versions(repository_sandbox, "quickstart-line") == ["1.0.0-mr.1.1"]
    notes = [row["body"] for row in repository_sandbox.app.store.all("SELECT body FROM notes")]
    assert len(notes) == 1 and "model=quickstart-line" in notes[0], notes
    assert all(f"/-/jobs/{mr.job_ids[name]})" in notes[0] for name in tune_jobs), notes[0]


@pytest.mark.parametrize("options", [
    ["--model", "churn", "--metric", "val_auc", "--mode", "max", "--schedule",
     "--space", "space.yml"],
    ["--no-tune", "--no-release", "--schedule", "--model", "churn", "--metric", "rmse"],
])
def test_init_writes_a_configuration_gitlab_ci_local_accepts(
        e2e_sandbox: Sandbox, tmp_path: Path, options: list[str]):
    checkout = Checkout("mr-tuning", tmp_path, e2e_sandbox)
    mlflow_gitlab("init", "--force", *options, env=checkout.env(), cwd=checkout.root,
                  check=True)
    listing = checkout.list_jobs({"CI_PIPELINE_SOURCE": "merge_request_event"},
                                 unset=("CI_COMMIT_BRANCH",))
    assert listing.returncode == 0, listing.output[-3000:]
    expected = {"--no-tune": {"mlflow-train"}}.get(options[0], TUNE_JOBS | {"mlflow-report",
                                                                            "mlflow-release"})
    assert expected <= set(listing.results), listing.output[-3000:]


def test_component_project_validates_its_own_components(tmp_path: Path):
    """The catalog project's `.gitlab-ci.yml` includes each component at $CI_COMMIT_SHA;
    gitlab-ci-local resolves those from the checkout and checks GitLab's CI schema."""
    project = tmp_path / "components"
    subprocess.run(["cp", "-r", str(ROOT / "ci-components"), str(project)], check=True)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-q",
                  "-m", "components"],
                 ["remote", "add", "origin", "https://gitlab.example.com/mlflow-gitlab/"
                                             "components.git"]):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    result = subprocess.run([str(GITLAB_CI_LOCAL), "--list", "--no-color"], cwd=project,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for job in ("mlflow-selftest-train", "mlflow-selftest-tune: [0.1]", "mlflow-selftest-report",
                "mlflow-selftest-release", "ensure-jobs-added"):
        assert job in result.stdout, result.stdout
