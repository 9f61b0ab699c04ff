"""`mlflow-gitlab init`: render a project's `.gitlab-ci.yml` from our CI/CD components.

The choices (tune in merge requests, release on the default branch, scheduled retrain) decide
which components are included and with which rules; the template is Jinja2, shipped in the
package (`templates/gitlab-ci.yml.j2`). Rendering is pure; `write` is the only I/O.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_gitlab import __version__
from mlflow_gitlab.errors import ScaffoldError

COMPONENTS = "mlflow-gitlab/components"  # where the catalog project lives on the instance
DEFAULT_BRANCH = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
MERGE_REQUEST = '$CI_PIPELINE_SOURCE == "merge_request_event"'
SCHEDULED = '$CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
EXAMPLE_MATRIX = [{"LEARNING_RATE": ["0.01", "0.1"]}]


@dataclass(frozen=True)
class Choices:
    """What the generated pipeline does."""

    tune: bool = True
    release: bool = True
    schedule: bool = False
    model: str | None = None
    metric: str | None = None
    mode: str = "min"
    command: str = "python train.py"
    experiment: str | None = None
    requirements: str | None = None
    artifacts: str | None = None
    matrix: Sequence[dict[str, Any]] | None = None  # default: an example to edit
    components: str = COMPONENTS
    version: str = __version__
    default_branch: str = "main"


def render(choices: Choices) -> str:
    """The `.gitlab-ci.yml` text for `choices`.

    Raises:
        ScaffoldError: a choice needs a value that is missing (`model`, `metric`).
    """
    check(choices)
    releases = choices.release or choices.schedule
    matrix = list(choices.matrix or EXAMPLE_MATRIX)
    keys = list(dict.fromkeys(key for entry in matrix for key in entry))
    release_rules = ([MERGE_REQUEST] if choices.tune and releases else []) + (
        [DEFAULT_BRANCH] if choices.release else [SCHEDULED] if choices.schedule else [])
    context = {
        **vars(choices),
        "summary": _summary(choices),
        "train_rules": [DEFAULT_BRANCH] if choices.tune else [],
        "release_rules": release_rules,
        "matrix": matrix,
        "matrix_keys": ",".join(keys),
        "matrix_note": ("from your search space" if choices.matrix else
                        "an example: write yours with `mlflow-gitlab tune matrix --space "
                        "space.yml --format inputs`"),
    }
    return environment().get_template("gitlab-ci.yml.j2").render(context)


def check(choices: Choices) -> None:
    """Refuse choices that lack a value, naming every missing one at once.

    Raises:
        ScaffoldError: `model` (to release) or `metric` (to tune or release) is missing.
    """
    releases = choices.release or choices.schedule
    missing = ([] if choices.model or not releases else
               ["--model NAME (the registered model name releases go to)"]) + (
        [] if choices.metric or not (choices.tune or releases) else
        ["--metric KEY (the metric that ranks runs)"])
    if missing:
        raise ScaffoldError(f"init needs {' and '.join(missing)}",
                            hint="e.g. mlflow-gitlab init --model churn --metric val_loss "
                                 "(add --mode max if higher is better)")


def generate(choices: Choices, space: Path | None = None, space_text: str | None = None
             ) -> str:
    """`render`, with the tuning matrix taken from a search space when one is given (its
    text, else the file `space`).

    Raises:
        ScaffoldError, SearchSpaceError: a choice or the space is unusable.
    """
    if space is not None:
        text = space.read_text(encoding="utf-8") if space_text is None else space_text
        choices = dataclasses.replace(choices, matrix=matrix_from_space(text, str(space)))
    return render(choices)


def matrix_from_space(text: str, source: str) -> list[dict[str, Any]]:
    """The tune component's `matrix` input for a search-space file (its own strategy).

    Raises:
        SearchSpaceError: the space is malformed or too large for one matrix.
    """
    from mlflow_gitlab.tuning.matrix_yaml import matrix_entries
    from mlflow_gitlab.tuning.space import load_space, plan

    space = load_space(text, source)
    return matrix_entries(plan(space.parameters, space.strategy, space.max_jobs, space.seed))


def check_target(path: Path, force: bool = False) -> None:
    """Refuse to write the configuration where it cannot go, before anything is written.

    Raises:
        ScaffoldError: `path` exists and `force` is False, or its folder does not exist.
    """
    if path.exists() and not force:
        raise ScaffoldError(f"{path} already exists", hint="pass --force to overwrite it, or "
                            "--output - to print the configuration instead")
    if not path.parent.is_dir():
        raise ScaffoldError(f"{path.parent} is not a folder",
                            hint="run init in your project's folder")


def write(text: str, path: Path, force: bool = False) -> None:
    """Write the rendered file, refusing to overwrite one unless `force`.

    Raises:
        ScaffoldError: see `check_target`.
    """
    check_target(path, force)
    path.write_text(text, encoding="utf-8")


def next_steps(choices: Choices, target: Path, written: Iterable[Path],
               kept: Iterable[Path]) -> list[str]:
    """What `init` tells the user once its files are written: what it wrote and kept, and
    what only they can do (the token variable, the components, a schedule)."""
    lines = [f"wrote {', '.join(str(p) for p in [target, *written])}"]
    kept = list(kept)
    if kept:
        lines.append(f"kept your {', '.join(str(p) for p in kept)} (init never overwrites "
                     "them)")
    steps = [
        "add the CI/CD variable MLFLOW_TRACKING_TOKEN (Settings > CI/CD > Variables): an "
        "access token with the `api` scope and the Developer role, Masked, not Protected",
        f"make the components available: {target} includes them as "
        f"$CI_SERVER_FQDN/{choices.components}/<name>@{choices.version}, so the project "
        f"{choices.components} on your GitLab instance must hold mlflow-gitlab's "
        "ci-components/ as a CI/CD catalog project (or pass --components PATH)",
    ]
    if choices.schedule:
        steps.append(f"add a pipeline schedule on {choices.default_branch} "
                     "(Build > Pipeline schedules)")
    steps.append("commit and push: " + "; ".join(_summary(choices)))
    return [*lines, "next:", *(f"  {n}. {step}" for n, step in enumerate(steps, 1))]


def _summary(choices: Choices) -> list[str]:
    parts = ["train on the default branch" if choices.tune else "train on every change"]
    if choices.tune:
        parts.append("tune, report and prerelease in merge requests")
    if choices.release:
        parts.append("release on the default branch")
    if choices.schedule:
        parts.append("retrain and release on a schedule")
    return parts


def _yaml(value: Any) -> str:
    """A flow-style YAML scalar or list: single-quoted strings, so `"` inside stays readable."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    text = str(value)
    return "'" + text + "'" if "'" not in text else json.dumps(text)


def environment():
    """The Jinja2 environment of the package's templates (`init`'s files)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("mlflow_gitlab", "templates"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["yaml"] = _yaml
    env.filters["pyrepr"] = repr
    return env
