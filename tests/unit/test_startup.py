"""Commands that need no MLflow must not import it: they run at the start of every CI job."""

from __future__ import annotations

import json
import subprocess
import sys

from tests import ci_envs

PROBE = """
import sys
from click.testing import CliRunner
from mlflow_gitlab.cli.main import cli
result = CliRunner().invoke(cli, sys.argv[1:])
assert result.exit_code == 0, result.output
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"mlflow", "gitlab", "git", "requests"})
print(heavy)
"""


def imported_heavy_modules(*args: str, env: dict[str, str]) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_context_in_ci_imports_no_heavy_module():
    assert imported_heavy_modules("context", "--format", "json", env=ci_envs.merge_request()) == []


def test_help_imports_no_heavy_module():
    assert imported_heavy_modules("--help", env=ci_envs.branch()) == []
