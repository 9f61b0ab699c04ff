"""`mlflow-gitlab init`: render a project's `.gitlab-ci.yml` from our CI/CD components.

The choices (tune in merge requests, release on the default branch, scheduled retrain) decide
which components are included and with which rules; the template is Jinja2, shipped in the
package (`templates/gitlab-ci.yml.j2`). Rendering is pure; `write` is the only I/O.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
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
    releases = choices.release or choices.schedule
    if releases and not choices.model:
        raise ScaffoldError("releasing needs a model name", hint="pass --model NAME")
    if (choices.tune or releases) and not choices.metric:
        raise ScaffoldError("tuning and releasing need the metric that ranks runs",
                            hint="pass --metric KEY (and --mode max if higher is better)")
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
    return _environment().get_template("gitlab-ci.yml.j2").render(context)


def generate(choices: Choices, space: Path | None = None) -> str:
    """`render`, with the tuning matrix taken from a search-space file when one is given.

    Raises:
        ScaffoldError, SearchSpaceError: a choice or the space is unusable.
    """
    if space is not None:
        text = space.read_text(encoding="utf-8")
        choices = dataclasses.replace(choices, matrix=matrix_from_space(text, str(space)))
    return render(choices)


def matrix_from_space(text: str, source: str) -> list[dict[str, Any]]:
    """The tune component's `matrix` input for a search-space file (its own strategy).

    Raises:
        SearchSpaceError: the space is malformed or too large for one matrix.
    """
    from mlflow_gitlab.matrix_yaml import matrix_entries
    from mlflow_gitlab.tuning import load_space, plan

    space = load_space(text, source)
    return matrix_entries(plan(space.parameters, space.strategy, space.max_jobs, space.seed))


def write(text: str, path: Path, force: bool = False) -> None:
    """Write the rendered file, refusing to overwrite one unless `force`.

    Raises:
        ScaffoldError: `path` exists and `force` is False.
    """
    if path.exists() and not force:
        raise ScaffoldError(f"{path} already exists", hint="pass --force to overwrite it, or "
                            "--output - to print the configuration instead")
    path.write_text(text, encoding="utf-8")


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


def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("mlflow_gitlab", "templates"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["yaml"] = _yaml
    return env
