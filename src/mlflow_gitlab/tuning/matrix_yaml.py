"""A tuning plan as GitLab YAML: a `parallel:matrix` block, tune inputs, or a child pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlflow_gitlab.context.gitlab_ci import PARENT_PIPELINE_VARIABLE
from mlflow_gitlab.env import MATRIX_KEYS
from mlflow_gitlab.errors import SearchSpaceError
from mlflow_gitlab.tuning.space import Plan, check_job_names, load_space, plan

SPOOL_ARTIFACT = ".mlflow-gitlab/spool/"  # the relay's default spool (relay.config)

FORMATS = ("matrix", "inputs", "child")


def matrix_entries(plan: Plan) -> list[dict[str, Any]]:
    """The `parallel:matrix` value.

    A grid is one entry of lists (GitLab takes the cartesian product of each entry, `matrix.rb`);
    sampled combinations are one entry of scalars each.
    """
    if plan.strategy == "grid":
        columns = [list(dict.fromkeys(c[i] for c in plan.combinations))
                   for i in range(len(plan.keys))]
        return [dict(zip(plan.keys, columns, strict=True))]
    return [dict(zip(plan.keys, combo, strict=True)) for combo in plan.combinations]


def child_pipeline(plan: Plan, *, job_name: str, image: str | None,
                   script: Sequence[str], variables: Mapping[str, str] | None = None,
                   parent_pipeline_id: int | None = None) -> dict[str, Any]:
    """A child-pipeline configuration: one interruptible `parallel:matrix` job running
    `script`, keeping the relay's spool as an artifact whatever the result (docs/relay.md).

    `parent_pipeline_id`, the pipeline that generates the file, goes into the job's
    variables, so that its runs are tagged as that pipeline's too and a `report` or
    `release` job there compares them.

    The job's one rule is `$CI_PIPELINE_SOURCE == "parent_pipeline"`, the source of every
    child pipeline (`doc/ci/variables/predefined_variables.md` in GitLab): the parent's
    trigger job already decided that it runs, and the rule keeps the file from adding jobs
    to any other pipeline it is included in.

    Raises:
        SearchSpaceError: `script` is empty.
    """
    if not script:
        raise SearchSpaceError("a child pipeline needs at least one --script line")
    job: dict[str, Any] = {}
    if image:
        job["image"] = image
    parent = {} if parent_pipeline_id is None else {
        PARENT_PIPELINE_VARIABLE: str(parent_pipeline_id)}
    job["variables"] = {**parent, **(variables or {}), MATRIX_KEYS.name: ",".join(plan.keys)}
    job["parallel"] = {"matrix": matrix_entries(plan)}
    job["interruptible"] = True  # a newer pipeline of the MR makes these candidates moot
    job["script"] = list(script)
    job["artifacts"] = {"when": "always", "paths": [SPOOL_ARTIFACT]}
    job["rules"] = [{"if": '$CI_PIPELINE_SOURCE == "parent_pipeline"'}]
    return {job_name: job}


def render(plan: Plan, fmt: str = "matrix", *, job_name: str = "tune",
           image: str | None = None, script: Sequence[str] = (),
           variables: Mapping[str, str] | None = None,
           parent_pipeline_id: int | None = None) -> str:
    """YAML text for `fmt`, headed by a comment saying what it holds.

    `matrix` is a `parallel:` block to paste into a job; `inputs` is the `matrix` and
    `matrix-keys` inputs of the `tune` component; `child` is a whole child pipeline.

    Raises:
        SearchSpaceError: unknown format, or a child pipeline without a script.
    """
    if fmt == "matrix":
        document: dict[str, Any] = {"parallel": {"matrix": matrix_entries(plan)}}
    elif fmt == "inputs":
        document = {"matrix": matrix_entries(plan), "matrix-keys": ",".join(plan.keys)}
    elif fmt == "child":
        document = child_pipeline(plan, job_name=job_name, image=image, script=script,
                                  variables=variables, parent_pipeline_id=parent_pipeline_id)
    else:
        raise SearchSpaceError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    return f"# mlflow-gitlab tune matrix: {plan.describe()}\n" + dump(document)


def dump(document: Any) -> str:
    """Block-style YAML in definition order; strings that look like numbers stay quoted."""
    import yaml  # PyYAML comes with mlflow-skinny

    class Dumper(yaml.SafeDumper):
        def represent_list(self, data: list[Any]) -> yaml.Node:
            leaf = all(isinstance(item, str | int | float) for item in data)
            return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=leaf)

    Dumper.add_representer(list, Dumper.represent_list)
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, default_flow_style=False,
                     width=100)


def fan_out(text: str, *, source: str = "the search space", strategy: str | None = None,
            max_jobs: int | None = None, seed: int | None = None, fmt: str = "matrix",
            job_name: str = "tune", image: str | None = None, script: Sequence[str] = (),
            variables: Mapping[str, str] | None = None,
            parent_pipeline_id: int | None = None) -> tuple[str, Plan]:
    """Search-space YAML in, GitLab YAML out; options left None take the file's defaults.

    Returns:
        (the YAML text, the plan it holds).

    Raises:
        SearchSpaceError: the space is malformed, or a job name is too long for GitLab;
            MatrixTooLarge past GitLab's limit.
    """
    space = load_space(text, source)
    chosen = plan(space.parameters, strategy or space.strategy,
                  space.max_jobs if max_jobs is None else max_jobs,
                  space.seed if seed is None else seed)
    check_job_names(job_name, chosen)
    return render(chosen, fmt, job_name=job_name, image=image, script=script,
                  variables=variables, parent_pipeline_id=parent_pipeline_id), chosen
