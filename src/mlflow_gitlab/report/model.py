"""What a report is made of: candidate rows, the baseline, and the places it links to.

Plain data, no I/O: gathered by `gather`/`baseline`/`sources`, shown by `render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    """A candidate run as a report shows it: its numbers and where to see more."""

    run_id: str
    name: str
    start_time: int
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    run_url: str | None = None
    job_url: str | None = None
    job_name: str | None = None
    pipeline_url: str | None = None
    pipeline_iid: str | None = None
    package_url: str | None = None


@dataclass(frozen=True)
class Place:
    """Something a report names and links: an experiment, a pipeline, a merge request."""

    label: str
    url: str | None = None


@dataclass(frozen=True)
class Baseline:
    """What candidates are measured against.

    Attributes:
        kind: "latest-version" or "target-branch".
        label: names it (`my-model 1.2.0`, `main pipeline #12`); None when none was found.
        value: its metric; None when unknown (`reason` says why).
        url: the model version's or the pipeline's page.
        run: the run it comes from, when it is one of the experiment's runs.
        reason: why there is no value, for the report to say.
    """

    kind: str
    label: str | None = None
    value: float | None = None
    url: str | None = None
    run: Row | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ReportData:
    """What a report is about, besides the comparison itself."""

    subject: str  # the model's name, else the experiment's: names the note's marker
    scope: str  # "pipeline" or "merge-request"
    experiment: Place
    baseline: Baseline
    pipeline: Place | None = None
    merge_request: Place | None = None
