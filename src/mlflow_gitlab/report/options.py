"""What `report` is asked (`ReportOptions`) and what it did (`ReportOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.report.note import NoteResult


@dataclass(frozen=True)
class ReportOptions:
    """What to report on, against what, and where to put it."""

    metric: str
    mode: str = "min"
    baseline: str | None = None  # latest-version | target-branch; default: by `model`
    model: str | None = None
    experiment: str | None = None
    scope: str = "pipeline"  # or merge-request
    top: int = 10
    output: Path = Path("report.md")
    metrics_file: Path | None = Path("metrics.txt")
    template: Path | None = None
    note: bool = True
    tracking_uri: str | None = None

    @property
    def baseline_kind(self) -> str:
        return self.baseline or ("latest-version" if self.model else "target-branch")


@dataclass(frozen=True)
class ReportOutcome:
    """What a report did."""

    output: Path | None  # None when there was nothing to report from
    candidates: int = 0
    winner: str | None = None  # the winner's run id
    note: NoteResult | None = None
