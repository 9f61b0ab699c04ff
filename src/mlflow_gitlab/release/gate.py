"""The regression gate: a candidate much worse than the latest version is not released."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mlflow_gitlab.errors import ConfigError, RegressionGateFailed

_AMOUNT = re.compile(r"\A\s*(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<pct>%)?\s*\Z")


@dataclass(frozen=True)
class Gate:
    """How much worse than the latest version a candidate may be.

    Attributes:
        amount: the allowed regression: a fraction of the latest value when `relative`,
            else in the metric's own unit.
        relative: whether `amount` is relative (given as a percentage).
    """

    amount: float
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Gate:
        """`5%` (relative to the latest value) or `0.02` (absolute, the metric's unit).

        Raises:
            ConfigError: `text` is neither.
        """
        match = _AMOUNT.match(text)
        if match is None:
            raise ConfigError(f"--max-regression {text!r} is not a number or a percentage",
                              hint="for example 2% (relative) or 0.01 (absolute)")
        value = float(match["n"])
        return cls(value / 100, True) if match["pct"] else cls(value, False)

    def allowed(self, latest: float) -> float:
        """The largest regression allowed against `latest`, in the metric's unit."""
        return self.amount * abs(latest) if self.relative else self.amount

    def check(self, metric: str, mode: str, candidate: float, latest: float,
              latest_label: str) -> None:
        """Pass silently, or refuse a candidate that regresses more than allowed.

        Args:
            metric: the metric's name, for the message.
            mode: "min" (lower is better) or "max".
            candidate: the candidate's value.
            latest: the latest version's value.
            latest_label: names the latest version in the message (`my-model 1.2.0`).

        Raises:
            RegressionGateFailed: the candidate is worse by more than `allowed(latest)`.
        """
        worse = candidate - latest if mode == "min" else latest - candidate
        allowed = self.allowed(latest)
        if worse <= allowed or math.isclose(worse, allowed, rel_tol=1e-9, abs_tol=1e-12):
            return
        share = f" ({worse / abs(latest):.1%})" if latest else ""
        limit = f"{self.amount:.4g}" if not self.relative else f"{self.amount:.2%}"
        raise RegressionGateFailed(
            f"{metric}={candidate:.6g} is worse than {latest_label}'s {latest:.6g} by "
            f"{worse:.4g}{share}, more than --max-regression {limit} allows; nothing released",
            hint="improve the model, or raise --max-regression to accept it")
