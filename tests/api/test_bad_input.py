"""The bad-input table (docs/bad-input.md) holds: each row is refused as it says, and nothing
is left behind.

Every row of the table has an id; each id is one case here. A case says how to reproduce the
row (arguments, environment, what exists beforehand); the table says what the user sees and
the exit code, so the page cannot drift from the behaviour. For each case the CLI runs as a
job would run it, against the sandbox, and must print one `error:` line (and at most one
`hint:` line) on stderr, nothing on stdout, no traceback, and change nothing: the project's
packages, runs, models and notes, and the files of the working folder, are the same after.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import ci_envs
from tests.cli import home, mlflow_gitlab

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bad-input.md"
BAD_TOKEN = "glpat-revokedrevokedrevoked00"
SPACE = "parameters:\n  LR: [0.01, 0.1]\n"


# --- the environments a job (or a laptop) gives the CLI ------------------------------------


def job(sandbox, **overrides: str | None) -> dict[str, str]:
    """A default-branch job of project 7 pointed at the sandbox; None removes a variable.

    A value naming a seeded token (`read_api`, `job`, ...) stands for that token.
    """
    env = ci_envs.branch(CI_COMMIT_MESSAGE="Retrain")
    env.update({
        "PATH": os.environ["PATH"], "HOME": home(),
        "CI_SERVER_URL": sandbox.url, "CI_API_V4_URL": sandbox.api_url,
        "CI_JOB_TOKEN": sandbox.tokens["job"], "CI_PROJECT_NAME": "demo-project",
        "MLFLOW_TRACKING_TOKEN": sandbox.tokens["developer"],
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_GITLAB_RETRY_ATTEMPTS": "2",
    })
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = sandbox.tokens.get(value, value)
    return env


def laptop(sandbox, **extra: str) -> dict[str, str]:
    """No CI at all: only what a shell has, plus `extra`."""
    env = {"PATH": os.environ["PATH"], "HOME": home(),
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    env.update({k: v.replace("{url}", sandbox.url).replace("{tracking}", sandbox.tracking_uri)
                for k, v in extra.items()})
    return env


# --- what exists before a case runs ---------------------------------------------------------


def workspace(root: Path) -> Path:
    """The job's working folder: files to upload, a search space, things that are not files."""
    root.mkdir()
    (root / "model.pkl").write_bytes(b"weights")
    (root / "empty").mkdir()
    (root / "names").mkdir()
    (root / "names" / "a b.txt").write_text("1")
    (root / "names" / "a_b.txt").write_text("2")
    (root / "manifest.json").write_text("{}")
    (root / "space.yml").write_text(SPACE)
    (root / "broken.yml").write_text("parameters: [\n")
    (root / "long-values.yml").write_text("parameters:\n  A: ['" + "y" * 260 + "']\n")
    (root / "broken.j2").write_text("{% if %}")
    os.mkfifo(root / "fifo")
    (root / "dangling").symlink_to(root / "gone")
    (root / "outside").mkdir()
    (root / "restored").mkdir()
    (root / "restored" / "link").symlink_to(root / "outside")
    (root / "outside" / "secret.txt").write_text("not for the package")
    (root / "linked").mkdir()
    (root / "linked" / "inside.txt").symlink_to("model.pkl")  # fine: inside the folder
    (root / "linked" / "model.pkl").write_bytes(b"weights")
    (root / "linked" / "secret.txt").symlink_to(root / "outside" / "secret.txt")
    (root / "tabbed").mkdir()
    (root / "tabbed" / "a\tb.txt").write_text("tab")
    return root


def put_package(api, version: str, files: dict[str, bytes], manifest: list[dict] | bytes) -> None:
    """Store package `churn` `version` over raw HTTP, as a hostile or broken uploader could."""
    for name, data in {**files, "manifest.json": _manifest(version, manifest)}.items():
        r = api.request("PUT", f"/projects/7/packages/generic/churn/{version}/{name}", data=data)
        assert r.status_code == 201, r.text


def _manifest(version: str, files: list[dict] | bytes) -> bytes:
    if isinstance(files, bytes):
        return files
    return json.dumps({"format": "mlflow-gitlab/manifest", "format_version": 1,
                       "package": {"name": "churn", "version": version},
                       "files": files}).encode()


def entry(path: str, name: str = "model.pkl", data: bytes = b"weights") -> dict[str, Any]:
    return {"path": path, "name": name, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def evil(path: str, name: str = "model.pkl") -> Callable[[Any, Path], None]:
    """A setup storing a package whose manifest lists `path` (`{work}`: the working folder)."""
    return lambda api, work: put_package(api, "1.0.0", {"model.pkl": b"weights"},
                                         [entry(path.format(work=work), name)])


def spool_file(work: Path, name: str, data: bytes) -> None:
    """A file in the relay's default spool folder."""
    path = work / ".mlflow-gitlab" / "spool" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def experiment(api, work: Path) -> None:
    """The experiment a release looks in: without it there is nothing to release, and so
    nothing to refuse."""
    assert api.mlflow("POST", "experiments/create", json={"name": "demo-project"}).ok


# --- the cases: one per row of docs/bad-input.md --------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    env: Callable[[Any], dict[str, str]] = job
    setup: Callable[[Any, Path], None] | None = None


def case(id: str, *args: str, env: Callable[[Any], dict[str, str]] = job,
         setup: Callable[[Any, Path], None] | None = None) -> Case:
    return Case(id, args, env, setup)


DOWNLOAD = ("download", "--package", "churn", "--version", "1.0.0", "--dest", "restored")
UPLOAD = ("upload", "model.pkl", "--package", "churn", "--version", "1.0.0")
RUN = ("run", "--", "true")
RELEASE = ("release", "--model", "churn", "--metric", "loss")

CASES = [
    # versions and names
    case("initial-version-not-semver", "release", "--model", "churn",
         "--initial-version", "1.0"),
    case("initial-version-v-prefix", "release", "--model", "churn",
         "--initial-version", "v1.0.0"),
    case("initial-version-prerelease", "release", "--model", "churn",
         "--initial-version", "1.0.0-rc.1"),
    case("package-version-invalid", "upload", "model.pkl", "--package", "churn",
         "--version", "1..0"),
    case("download-version-traversal", "download", "--package", "churn",
         "--version", "../1.0.0"),
    case("model-name-invalid", "release", "--model", "churn model!"),
    case("model-name-too-long", "release", "--model", "m" * 256),
    case("package-name-invalid", "upload", "model.pkl", "--package", "my model",
         "--version", "1.0.0"),
    case("download-package-name-traversal", "download", "--package", "../churn",
         "--version", "1.0.0"),
    case("file-names-collide", "upload", "names", "--package", "churn", "--version", "1.0.0"),
    case("file-named-like-the-manifest", "upload", "manifest.json", "--package", "churn",
         "--version", "1.0.0"),
    # downloads: traversal and tampering
    case("manifest-path-traversal", *DOWNLOAD, setup=evil("../escape.txt")),
    case("manifest-absolute-path", *DOWNLOAD, setup=evil("{work}/outside/escape.txt")),
    case("manifest-file-name-traversal", *DOWNLOAD, setup=evil("model.pkl", "../../model.pkl")),
    case("dest-symlink-escape", *DOWNLOAD, setup=evil("link/model.pkl")),
    case("manifest-not-json", *DOWNLOAD, setup=lambda api, work: put_package(
        api, "1.0.0", {"model.pkl": b"weights"}, b"not json")),
    case("file-changed-after-manifest", *DOWNLOAD, setup=lambda api, work: put_package(
        api, "1.0.0", {"model.pkl": b"tampered"}, [entry("model.pkl")])),
    case("package-without-manifest", *DOWNLOAD),
    case("manifest-name-too-long", *DOWNLOAD, setup=evil("a" * 300)),
    case("second-file-fails-its-check", *DOWNLOAD, setup=lambda api, work: put_package(
        api, "1.0.0", {"a.pkl": b"weights", "b.pkl": b"tampered"},
        [entry("a.pkl", "a.pkl"), entry("b.pkl", "b.pkl")])),
    # sizes
    case("param-name-too-long", "run", "--param", "k" * 251 + "=1", "--", "true"),
    case("param-value-too-long", "run", "--param", "notes=" + "x" * 251, "--", "true"),
    case("run-name-too-long", "run", "--run-name", "r" * 256, "--", "true"),
    # KEY=VALUE and other option values
    case("param-not-key-value", "run", "--param", "lr", "--", "true"),
    case("param-empty-key", "run", "--param", "=0.1", "--", "true"),
    case("variable-not-key-value", "tune", "matrix", "--space", "space.yml", "--format",
         "child", "--variable", "LR"),
    case("max-file-size-malformed", *UPLOAD, "--max-file-size", "lots"),
    case("parallel-malformed", *UPLOAD, env=lambda sb: job(sb, MLFLOW_GITLAB_PARALLEL="many")),
    case("follow-symlinks-malformed", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_FOLLOW_SYMLINKS="maybe")),
    case("retry-attempts-malformed", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_RETRY_ATTEMPTS="zero")),
    case("max-regression-malformed", *RELEASE, "--max-regression", "lots"),
    case("bump-unknown", *RELEASE, "--bump", "huge"),
    case("runs-mode-unknown", "runs", "--metric", "loss", "--mode", "best"),
    case("runs-columns-unknown", "runs", "--columns", "name,loss"),
    case("package-without-version", "upload", "model.pkl", "--package", "churn"),
    case("init-missing-choices", "init"),
    case("gitlab-url-not-http", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_URL="gitlab.example.com")),
    case("gitlab-url-bad-port", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_URL="http://gitlab.example.com:99999")),
    case("ci-api-url-not-a-url", *RUN, env=lambda sb: job(sb, CI_API_V4_URL="notaurl")),
    case("tracking-uri-not-a-url", *RUN, env=lambda sb: job(sb, MLFLOW_TRACKING_URI="notaurl")),
    case("tracking-uri-malformed", *RELEASE, env=lambda sb: job(
        sb, MLFLOW_TRACKING_URI="http://[::1/api/v4/projects/7/ml/mlflow")),
    case("tracking-uri-local-store", *RUN,
         env=lambda sb: job(sb, MLFLOW_TRACKING_URI="file:///tmp/mlruns")),
    # tokens
    case("job-token-on-mlflow-run", *RUN,
         env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN="job")),
    case("job-token-on-mlflow-release", *RELEASE,
         env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN="job")),
    case("tracking-token-rejected", *RUN,
         env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN=BAD_TOKEN)),
    case("read-api-token-run", *RUN, env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN="read_api")),
    case("read-api-token-release", *RELEASE, setup=experiment,
         env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN="read_api")),
    case("read-api-token-runs", "runs", "--metric", "loss", setup=experiment,
         env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN="read_api")),
    case("read-api-token-upload", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_TOKEN="read_api")),
    case("reporter-token-upload", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_TOKEN="reporter")),
    case("gitlab-token-rejected", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_TOKEN=BAD_TOKEN)),
    case("gitlab-token-trailing-newline", *UPLOAD,
         env=lambda sb: job(sb, MLFLOW_GITLAB_TOKEN=sb.tokens["developer"] + "\n")),
    case("tracking-token-trailing-newline", *RUN,
         env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN=sb.tokens["developer"] + "\n")),
    case("tracking-token-inner-whitespace", *RUN, env=lambda sb: job(
        sb, MLFLOW_TRACKING_TOKEN=sb.tokens["developer"].replace("-", "- ", 1))),
    # missing settings
    case("no-tracking-uri", *RUN, env=laptop),
    case("job-without-project-id", *RUN, env=lambda sb: job(sb, CI_PROJECT_ID=None)),
    case("no-tracking-token", *RUN, env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN=None)),
    case("tracking-uri-without-mlflow-path", *RUN,
         env=lambda sb: job(sb, MLFLOW_TRACKING_URI=f"{sb.api_url}/projects/7")),
    case("no-gitlab-url", *UPLOAD, env=laptop),
    case("no-gitlab-project", *UPLOAD, env=lambda sb: laptop(sb, MLFLOW_GITLAB_URL="{url}")),
    case("no-gitlab-token", *UPLOAD, env=lambda sb: laptop(
        sb, MLFLOW_GITLAB_URL="{url}", MLFLOW_GITLAB_PROJECT="7")),
    case("release-outside-a-pipeline", "release", "--model", "churn", env=lambda sb: laptop(
        sb, MLFLOW_TRACKING_URI="{tracking}", MLFLOW_TRACKING_TOKEN="glpat-laptoptoken00")),
    case("report-outside-a-pipeline", "report", "--metric", "loss", env=lambda sb: laptop(
        sb, MLFLOW_TRACKING_URI="{tracking}", MLFLOW_TRACKING_TOKEN="glpat-laptoptoken00")),
    case("runs-outside-a-pipeline", "runs", "--metric", "loss", env=lambda sb: laptop(
        sb, MLFLOW_TRACKING_URI="{tracking}", MLFLOW_TRACKING_TOKEN="glpat-laptoptoken00")),
    case("runs-experiment-missing", "runs", "--experiment", "nope"),
    case("versions-unknown-model", "versions", "--model", "churn"),
    case("versions-no-tracking-uri", "versions", "--model", "churn", env=laptop),
    # files and folders
    case("upload-missing-path", "upload", "outputs", "--package", "churn", "--version", "1.0.0"),
    case("upload-dangling-symlink", "upload", "dangling", "--package", "churn",
         "--version", "1.0.0"),
    case("upload-a-pipe", "upload", "fifo", "--package", "churn", "--version", "1.0.0"),
    case("upload-empty-folder", "upload", "empty", "--package", "churn", "--version", "1.0.0"),
    case("upload-symlink-out-of-folder", "upload", "linked", "--package", "churn",
         "--version", "1.0.0"),
    case("upload-name-download-refuses", "upload", "tabbed", "--package", "churn",
         "--version", "1.0.0"),
    case("sandbox-data-not-a-sandbox", "sandbox", "serve", "--data", "names"),
    case("download-dest-is-a-file", "download", "--package", "churn", "--version", "1.0.0",
         "--dest", "model.pkl"),
    case("space-is-a-folder", "tune", "matrix", "--space", "empty"),
    case("space-not-yaml", "tune", "matrix", "--space", "broken.yml"),
    case("matrix-job-name-too-long", "tune", "matrix", "--space", "long-values.yml"),
    case("report-template-missing", "report", "--metric", "loss", "--template", "custom.j2"),
    case("report-template-broken", "report", "--metric", "loss", "--template", "broken.j2"),
    case("dotenv-under-a-file", "run", "--dotenv", "model.pkl/run.env", "--", "true"),
    case("release-dotenv-under-a-file", *RELEASE, "--dotenv", "model.pkl/release.env"),
    case("dotenv-new-folder-refused-run", "run", "--dotenv", "build/sub/run.env", "--", "true",
         env=lambda sb: job(sb, MLFLOW_TRACKING_TOKEN="job")),
    case("dotenv-new-folder-nothing-to-release", *RELEASE, "--strict", "--dotenv",
         "build/sub/release.env", setup=experiment),
    case("matrix-output-under-a-file", "tune", "matrix", "--space", "space.yml", "--output",
         "model.pkl/matrix.yml"),
    case("report-output-under-a-file", "report", "--metric", "loss", "--output",
         "model.pkl/report.md"),
    case("report-metrics-under-a-file", "report", "--metric", "loss", "--metrics-file",
         "model.pkl/metrics.txt"),
    case("upload-changes-a-stored-file", *UPLOAD, setup=lambda api, work: put_package(
        api, "1.0.0", {"model.pkl": b"other"}, [entry("model.pkl", data=b"other")])),
    # answers that are not GitLab's
    case("upload-answered-by-a-redirect", *UPLOAD, setup=lambda api, work: api.sandbox.inject(
        "PUT", r"/model\.pkl$", status=307, location="http://127.0.0.2:9/bucket/model.pkl")),
    case("upload-answered-by-a-web-page", *UPLOAD, setup=lambda api, work: api.sandbox.inject(
        "PUT", r"/model\.pkl$", body="<html><body>Sign in</body></html>",
        content_type="text/html")),
    case("spool-file-not-a-spool-file", "sync", setup=lambda api, work: spool_file(
        work, "3f2a.jsonl", b"not json\n")),
    case("journal-folder-without-record", "sync", setup=lambda api, work: spool_file(
        work, "journal-k2j4/123-000001.jsonl", b'["r", "loss", 1, 1, 0]\n')),
    case("upload-over-the-instance-limit", *UPLOAD, setup=lambda api, work: api.sandbox.inject(
        "PUT", r"/model\.pkl$", status=413, content_type="text/plain; charset=utf-8",
        body="RequestBody: upload failed: the upload size 7 is over maximum of 5 bytes: "
             "entity is too large\n")),
    # the wrapped command
    case("command-not-found", "run", "--", "no-such-command"),
]


# --- the page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    message: str  # what the user sees; `…` stands for a part that varies
    exit_code: int

    def matches(self, line: str) -> bool:
        pattern = ".*".join(re.escape(part) for part in self.message.split("…"))
        return re.fullmatch(pattern, line) is not None


def documented() -> dict[str, Row]:
    """The rows of docs/bad-input.md's tables: | `id` | input | command | message | exit | left |"""
    rows = {}
    for line in DOCS.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 6, line
        row_id, message, code = cells[0].strip("`"), cells[3], cells[4]
        assert row_id not in rows, f"{row_id} is in the table twice"
        rows[row_id] = Row(row_id, re.sub(r"\A(`+) ?(.*?) ?\1\Z", r"\2", message), int(code))
    return rows


def test_the_page_lists_exactly_the_cases():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    rows = documented()
    assert sorted(rows) == sorted(ids)
    assert all(row.message.startswith("error: ") for row in rows.values())


# --- the state a refusal must leave unchanged -----------------------------------------------


def project_state(api) -> dict[str, Any]:
    """What a user could see in the project: packages and their files, experiments and runs,
    models and versions, merge-request notes."""
    packages = {}
    for p in api.request("GET", "/projects/7/packages", params={"per_page": 100}).json():
        files = api.request("GET", f"/projects/7/packages/{p['id']}/package_files",
                            params={"per_page": 100}).json()
        packages[(p["package_type"], p["name"], p["version"])] = sorted(
            (f["file_name"], f["size"]) for f in files)
    runs = {}
    for e in api.mlflow("POST", "experiments/search", json={"max_results": 1000}
                        ).json()["experiments"]:
        found = api.mlflow("POST", "runs/search", json={
            "experiment_ids": [e["experiment_id"]], "max_results": 1000}).json()
        runs[e["name"]] = sorted((r["info"]["run_id"], r["info"]["status"])
                                 for r in found.get("runs", []))
    models = {m["name"]: sorted(v["version"] for v in m.get("latest_versions", []))
              for m in api.mlflow("GET", "registered-models/search", params={
                  "max_results": 1000}).json()["registered_models"]}
    notes = [n["id"] for n in api.request("GET", "/projects/7/merge_requests/1/notes",
                                          params={"per_page": 100}).json()]
    return {"packages": packages, "runs": runs, "models": models, "notes": notes}


def folder_state(root: Path) -> dict[str, str]:
    """Every entry under `root`: its kind, and a file's content digest or a link's target."""
    state = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[name] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            state[name] = "folder"
        elif path.is_file():
            state[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[name] = "other"
    return state


# --- the behaviour --------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_in_one_line_and_leaves_nothing(case, sandbox, api, tmp_path):
    row = documented()[case.id]
    work = workspace(tmp_path / "work")
    if case.setup is not None:
        case.setup(api, work)
    before = project_state(api), folder_state(tmp_path / "work")

    result = mlflow_gitlab(*case.args, env=case.env(sandbox), cwd=work, timeout=60)

    assert (result.returncode, result.stdout) == (row.exit_code, ""), result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert row.matches(lines[0]), f"documented: {row.message}\nprinted:    {lines[0]}"
    assert len(lines) == 1 or (len(lines) == 2 and re.match(r"hint: \S", lines[1])), \
        result.stderr
    assert (project_state(api), folder_state(tmp_path / "work")) == before

