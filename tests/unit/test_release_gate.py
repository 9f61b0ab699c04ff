"""The regression gate: relative and absolute limits, for lower- and higher-is-better metrics."""

from __future__ import annotations

import pytest

from mlflow_gitlab.errors import ConfigError, RegressionGateFailed
from mlflow_gitlab.release.gate import Gate


@pytest.mark.parametrize(("text", "gate"), [
    ("5%", Gate(0.05, True)), ("0.5 %", Gate(0.005, True)), ("0.02", Gate(0.02, False)),
    ("0", Gate(0.0, False)), (".1", Gate(0.1, False)),
])
def test_parse(text, gate):
    assert Gate.parse(text) == gate


@pytest.mark.parametrize("text", ["", "-1", "five", "5%%", "1e-3"])
def test_parse_refuses_what_it_cannot_read(text):
    with pytest.raises(ConfigError, match="--max-regression"):
        Gate.parse(text)


@pytest.mark.parametrize(("gate", "mode", "candidate", "latest"), [
    ("10%", "min", 0.22, 0.2),  # exactly at the limit passes
    ("10%", "min", 0.1, 0.2),  # better
    ("0.05", "max", 0.85, 0.9),
    ("0", "max", 0.9, 0.9),
    ("10%", "min", -0.95, -1.0),  # relative to |latest|
])
def test_within_the_limit_passes(gate, mode, candidate, latest):
    Gate.parse(gate).check("m", mode, candidate, latest, "model 1.0.0")


@pytest.mark.parametrize(("gate", "mode", "candidate", "latest"), [
    ("10%", "min", 0.2201, 0.2),
    ("0.05", "max", 0.84, 0.9),
    ("0", "min", 0.2000001, 0.2),
])
def test_beyond_the_limit_fails_with_exit_code_4(gate, mode, candidate, latest):
    with pytest.raises(RegressionGateFailed) as info:
        Gate.parse(gate).check("m", mode, candidate, latest, "model 1.0.0")
    assert info.value.exit_code == 4
    assert "than model 1.0.0's" in str(info.value) and "nothing released" in str(info.value)
