"""Search spaces for hyperparameter tuning, turned into GitLab `parallel:matrix` fan-outs.

A search space is a small YAML file:

    parameters:
      LEARNING_RATE: [0.01, 0.1]                        # choices
      N_ESTIMATORS: {min: 50, max: 200, step: 50}       # an inclusive numeric grid
      ALPHA: {distribution: loguniform, min: 0.0001, max: 0.1}   # random strategy only

Each parameter becomes a matrix variable, so its name must be a valid matrix key and its
values arrive in the job as strings (`lib/gitlab/ci/config/entry/product/variables.rb` in
GitLab). Pure: no I/O, no network.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.errors import MatrixTooLarge, SearchSpaceError

GITLAB_MAX_JOBS = 200  # permutations per `parallel:matrix` job (`PARALLEL_LIMIT`,
# `lib/gitlab/ci/config/entry/product/parallel.rb` in GitLab)
GITLAB_MAX_JOB_NAME = 255  # characters in a job name, matrix values included
STRATEGIES = ("grid", "random")
_KEY = re.compile(r"\A[A-Za-z0-9_]+\Z")  # matrix keys: letters, digits and `_` only
_DISTRIBUTIONS = ("uniform", "loguniform")


@dataclass(frozen=True)
class Parameter:
    """One dimension: finite `choices`, or a continuous `distribution` over [low, high]."""

    name: str
    choices: tuple[str, ...] = ()
    distribution: str | None = None
    low: float = 0.0
    high: float = 0.0

    @property
    def finite(self) -> bool:
        return self.distribution is None

    def sample(self, rng: random.Random) -> str:
        if self.finite:
            return rng.choice(self.choices)
        if self.distribution == "loguniform":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return _number(float(f"{value:.6g}"))


@dataclass(frozen=True)
class Plan:
    """The combinations to run, in order, and how they were chosen (for the summary line)."""

    keys: tuple[str, ...]
    combinations: tuple[tuple[str, ...], ...]
    strategy: str
    space_size: int | None  # None: the space is continuous

    def describe(self) -> str:
        space = ("a continuous space" if self.space_size is None
                 else f"{self.space_size} combinations")
        return f"{len(self.combinations)} jobs ({self.strategy} over {space})"


@dataclass(frozen=True)
class SearchSpace:
    """A parsed search-space file: its parameters and the defaults it sets."""

    parameters: tuple[Parameter, ...]
    strategy: str = "grid"
    max_jobs: int = GITLAB_MAX_JOBS
    seed: int = 0


def load_space(text: str, source: str = "the search space") -> SearchSpace:
    """Parse a search-space YAML document.

    Args:
        text: the file's content.
        source: how to name the file in errors.

    Raises:
        SearchSpaceError: the YAML is invalid or the space is malformed.
    """
    import yaml  # PyYAML comes with mlflow-skinny; imported here to keep `--help` light

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SearchSpaceError(f"{source} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("parameters"), Mapping) \
            or not data["parameters"]:
        raise SearchSpaceError(f"{source} has no `parameters` mapping",
                               hint="write `parameters:` with one entry per matrix variable")
    unknown = set(data) - {"parameters", "strategy", "max_jobs", "seed"}
    if unknown:
        raise SearchSpaceError(f"{source} has unknown keys: {', '.join(sorted(unknown))}",
                               hint="allowed: parameters, strategy, max_jobs, seed")
    max_jobs, seed = data.get("max_jobs", GITLAB_MAX_JOBS), data.get("seed", 0)
    if not isinstance(max_jobs, int) or not isinstance(seed, int):
        raise SearchSpaceError(f"{source}: max_jobs and seed must be whole numbers")
    return SearchSpace(tuple(parameters(data["parameters"])),
                       str(data.get("strategy", "grid")), max_jobs, seed)


def parameters(spec: Mapping[str, Any]) -> list[Parameter]:
    """Parse the `parameters` mapping into dimensions, in definition order.

    Raises:
        SearchSpaceError: a name is not a matrix key, or a definition is malformed.
    """
    return [_parameter(str(name), value) for name, value in spec.items()]


def plan(params: Sequence[Parameter], strategy: str = "grid",
         max_jobs: int = GITLAB_MAX_JOBS, seed: int = 0) -> Plan:
    """Choose the combinations: the whole grid, or `max_jobs` distinct random ones.

    Raises:
        MatrixTooLarge: the grid, or `max_jobs`, exceeds GitLab's 200 jobs per matrix.
        SearchSpaceError: a grid over a continuous parameter, or a bad strategy.
    """
    if strategy not in STRATEGIES:
        raise SearchSpaceError(f"unknown strategy {strategy!r}; use grid or random")
    if not 1 <= max_jobs <= GITLAB_MAX_JOBS:
        raise MatrixTooLarge(f"--max-jobs {max_jobs} is outside 1..{GITLAB_MAX_JOBS}",
                             hint="GitLab runs at most 200 jobs per parallel:matrix")
    keys = tuple(p.name for p in params)
    finite = all(p.finite for p in params)
    size = math.prod(len(p.choices) for p in params) if finite else None
    if strategy == "grid":
        if not finite:
            continuous = ", ".join(p.name for p in params if not p.finite)
            raise SearchSpaceError(f"a grid cannot cover continuous parameters ({continuous})",
                                   hint="use --strategy random, or give them a `step`")
        if size > max_jobs:
            raise MatrixTooLarge(
                f"the grid has {size} combinations, more than the {max_jobs} allowed "
                f"(GitLab runs at most {GITLAB_MAX_JOBS} jobs per parallel:matrix)",
                hint=f"sample it: --strategy random --max-jobs {min(max_jobs, 20)}")
        combos = tuple(itertools.product(*(p.choices for p in params)))
        return Plan(keys, combos, strategy, size)
    return Plan(keys, _sample(params, max_jobs, size, random.Random(seed)), strategy, size)


def check_job_names(job_name: str, chosen: Plan) -> None:
    """Refuse a plan whose longest matrix job name GitLab would refuse.

    GitLab names each matrix job `<job>: [<value>, <value>, ...]`
    (`lib/gitlab/ci/config/normalizer/matrix_strategy.rb`) and takes names of at most 255
    characters.

    Raises:
        SearchSpaceError: a name is longer than that.
    """
    longest = max((matrix_job_name(job_name, combo) for combo in chosen.combinations),
                  key=len, default=job_name)
    if len(longest) > GITLAB_MAX_JOB_NAME:
        raise SearchSpaceError(
            f"the job name {longest[:60]}... has {len(longest)} characters, more than the "
            f"{GITLAB_MAX_JOB_NAME} GitLab allows",
            hint="shorten the values (or fewer parameters), or a shorter --job-name")


def matrix_job_name(job_name: str, values: Sequence[str]) -> str:
    """The name GitLab gives the matrix job running `values`."""
    return f"{job_name}: [{', '.join(values)}]"


# --- parsing --------------------------------------------------------------------------------


def _parameter(name: str, value: Any) -> Parameter:
    if not _KEY.match(name):
        raise SearchSpaceError(f"parameter {name!r} is not a valid matrix variable name",
                               hint="use only letters, digits and `_` (GitLab's matrix keys)")
    if isinstance(value, list):
        choices = tuple(dict.fromkeys(_scalar(name, v) for v in value))
        if not choices:
            raise SearchSpaceError(f"parameter {name} has no values")
        return Parameter(name, choices)
    if isinstance(value, Mapping):
        return _ranged(name, value)
    return Parameter(name, (_scalar(name, value),))


def _ranged(name: str, spec: Mapping[str, Any]) -> Parameter:
    low, high = spec.get("min"), spec.get("max")
    if not _is_number(low) or not _is_number(high) or low > high:
        raise SearchSpaceError(f"parameter {name} needs numbers min <= max")
    if "distribution" in spec:
        dist = spec["distribution"]
        if dist not in _DISTRIBUTIONS or (dist == "loguniform" and low <= 0):
            raise SearchSpaceError(f"parameter {name}: distribution must be uniform or "
                                   "loguniform (with min > 0)")
        return Parameter(name, distribution=dist, low=float(low), high=float(high))
    step = spec.get("step", 1 if isinstance(low, int) and isinstance(high, int) else None)
    if not _is_number(step) or step <= 0:
        raise SearchSpaceError(f"parameter {name} needs a positive `step` (or a `distribution`)")
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > 10_000:
        raise SearchSpaceError(f"parameter {name} has {count} steps; widen the step")
    values = (low + i * step for i in range(count))
    return Parameter(name, tuple(_number(v) for v in values))


def _sample(params: Sequence[Parameter], n: int, size: int | None,
            rng: random.Random) -> tuple[tuple[str, ...], ...]:
    """`n` distinct combinations (all of them, in grid order, when the space is smaller)."""
    if size is not None and size <= n:
        return tuple(itertools.product(*(p.choices for p in params)))
    seen: dict[tuple[str, ...], None] = {}
    attempts = 0
    while len(seen) < n and attempts < n * 100:
        seen.setdefault(tuple(p.sample(rng) for p in params))
        attempts += 1
    return tuple(seen)


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return _number(value)
    if isinstance(value, str) and value:
        return value
    raise SearchSpaceError(f"parameter {name} has a value that is not a string or number: "
                           f"{value!r}")


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    value = round(value, 12)  # 0.1 + 2 * 0.1 -> 0.3, not 0.30000000000000004
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)
