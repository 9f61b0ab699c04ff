"""What a release records on a model version: its tags, its description and the dotenv keys.

GitLab cannot change a version's tags after creation, so every tag is sent
with `model-versions/create`; only the description, which says whether the files are all
there, is updated later. The names are a contract with users (docs/release.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlflow_gitlab import tags as t
from mlflow_gitlab.context import CIContext
from mlflow_gitlab.redaction import Redactor
from mlflow_gitlab.tracking.run_search import Candidate
from mlflow_gitlab.versioning import Bump, BumpDecision, SemVer

SOURCE_RUN = "mlflow-gitlab.source.run_id"
SOURCE_EXPERIMENT = "mlflow-gitlab.source.experiment_id"
SOURCE_PACKAGE = "mlflow-gitlab.source.package"  # outputs' `<name>/<version>` or `candidate:<iid>`
MODEL_PATH = "mlflow-gitlab.model_path"  # the MLmodel's folder inside those files
METRIC_PREFIX = "mlflow-gitlab.metric."  # one tag per metric of the source run
SELECTED_BY = "mlflow-gitlab.selected_by"  # `min loss`, `max accuracy` or `--run`
BUMP = "mlflow-gitlab.bump"
BUMP_SOURCE = "mlflow-gitlab.bump_source"  # signature, --bump, label ..., commit trailer ...
BUMP_REASONS = "mlflow-gitlab.bump_reasons"
PREVIOUS_VERSION = "mlflow-gitlab.previous_version"
INITIAL = "initial"  # the `mlflow-gitlab.bump` of a model's first version
INCOMPLETE_PREFIX = "INCOMPLETE:"  # a version's description until its files are all copied

# The CI facts a version keeps from the release job (the job, pipeline, MR and commit).
CI_KEYS = (t.PIPELINE_ID, t.PIPELINE_IID, t.PIPELINE_URL, t.PIPELINE_SOURCE, t.JOB_ID,
           t.JOB_URL, t.MERGE_REQUEST_IID, t.REF_NAME, t.COMMIT_TAG, t.GIT_COMMIT, t.GIT_BRANCH,
           t.PROJECT_PATH, t.USER)
MAX_METRIC_TAGS = 50
_MODEL_TAG_KEY_MAX = 255  # model-version tag keys


@dataclass(frozen=True)
class Provenance:
    """Where a version's files come from: the run and its package, and the MLmodel folder."""

    candidate: Candidate
    package: str | None  # `<name>/<version>` of the outputs, or `candidate:<iid>`
    model_path: str | None  # None: the outputs hold no MLmodel; "": it is at the top


def version_tags(context: CIContext, source: Provenance, selected_by: str,
                 decision: BumpDecision | None, previous: SemVer | None,
                 redactor: Redactor | None = None) -> dict[str, str]:
    """Every tag of a new version except `gitlab.version` (the registry adds it).

    `decision` is None for a model's first version.
    """
    ci = t.tags_for(context, redactor)
    tags = {key: ci[key] for key in CI_KEYS if key in ci}
    run = source.candidate
    tags[SOURCE_RUN] = run.run_id
    tags[SOURCE_EXPERIMENT] = run.experiment_id
    if source.package:
        tags[SOURCE_PACKAGE] = source.package
    if source.model_path is not None:
        tags[MODEL_PATH] = source.model_path or "."
    for key in sorted(run.metrics)[:MAX_METRIC_TAGS]:
        if len(METRIC_PREFIX + key) <= _MODEL_TAG_KEY_MAX:
            tags[METRIC_PREFIX + key] = repr(run.metrics[key])
    tags[SELECTED_BY] = selected_by
    tags[BUMP] = decision.bump.value if decision else INITIAL
    tags[BUMP_SOURCE] = decision.source if decision else "first version"
    if decision and decision.reasons:
        tags[BUMP_REASONS] = t.fit_value("; ".join(decision.reasons))
    if previous is not None:
        tags[PREVIOUS_VERSION] = str(previous)
    return tags


def recorded_decision(tags: Mapping[str, str]) -> BumpDecision | None:
    """The bump decision recorded on a version (None for a first version, or not ours)."""
    try:
        bump = Bump(tags.get(BUMP, INITIAL))
    except ValueError:
        return None
    reasons = tags.get(BUMP_REASONS)
    return BumpDecision(bump, tags.get(BUMP_SOURCE, "?"),
                        tuple(reasons.split("; ")) if reasons else ())


def recorded_metric(tags: Mapping[str, str], metric: str) -> float | None:
    """The value of `metric` recorded on a version, or None."""
    try:
        return float(tags[METRIC_PREFIX + metric])
    except (KeyError, ValueError):
        return None


def is_incomplete(description: str) -> bool:
    """Whether a version's description says its files are not all copied yet."""
    return description.startswith(INCOMPLETE_PREFIX)


def incomplete_description(run_id: str, pipeline: str, problem: str | None = None) -> str:
    """The description while files are missing: what happened and how to finish."""
    state = f"copying its files failed ({problem})" if problem else "its files are being copied"
    return (f"{INCOMPLETE_PREFIX} {state} from run {run_id}. Re-run the release of {pipeline} "
            "to complete it; the version is complete once its package holds manifest.json.")


def complete_description(source: Provenance, selected_by: str, pipeline: str,
                         decision: BumpDecision | None) -> str:
    """The description of a complete version, for people browsing the registry."""
    run = source.candidate
    text = f"Released from run {run.name or run.run_id} ({run.run_id})"
    if pipeline.startswith("pipeline"):
        text += f" of {pipeline}"
    text += f", selected by {selected_by}." if selected_by != "--run" else " (--run)."
    text += " First version." if decision is None else f" {str(decision).capitalize()}."
    return t.fit_value(text, 10_000)


def pipeline_label(context: CIContext, run_id: str) -> str:
    """`pipeline #12` (its per-project number), or `run <id>` outside CI."""
    pipeline = context.pipeline
    if pipeline.id is None:
        return f"run {run_id}"
    return f"pipeline #{pipeline.iid or pipeline.id}"
