"""Each example's requirements.txt lists what its scripts import, for a bare runner."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if list(p.glob("*.py")))
# What the package the components install brings (mlflow-gitlab's own dependencies).
FROM_MLFLOW_GITLAB = {"mlflow", "mlflow-skinny", "click", "jinja2", "pyyaml"}
# Imported by MLflow at run time, invisible to `ast`: `mlflow.sklearn` needs pandas, and
# MLflow 3 saves sklearn models in the skops format.
RUNTIME_NEEDS = {"mlflow.sklearn": {"pandas", "skops"}}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imports(folder: Path) -> set[str]:
    """Dotted names of every module the folder's scripts import."""
    names: set[str] = set()
    for script in folder.glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return {n for n in names if n.split(".")[0] not in sys.stdlib_module_names}


def requirements(folder: Path) -> set[str]:
    path = folder / "requirements.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return {normalized(re.match(r"[A-Za-z0-9_.-]+", line)[0]) for line in lines
            if line.strip() and not line.startswith(("#", "-"))}


@pytest.mark.parametrize("folder", EXAMPLES, ids=lambda p: p.name)
def test_every_import_is_covered_by_the_requirements(folder: Path):
    distributions = packages_distributions()
    listed = requirements(folder) | FROM_MLFLOW_GITLAB
    for module in imports(folder):
        top = module.split(".")[0]
        options = {normalized(d) for d in distributions.get(top, [top])}
        assert options & listed, f"{folder.name}: `import {module}` needs one of {options}"
        for needed in RUNTIME_NEEDS.get(module, set()):
            assert needed in requirements(folder), f"{folder.name}: {module} needs {needed}"


def test_the_tree_model_note_names_the_trusted_type():
    """Tree models saved with skops need their node type trusted (MLflow refuses otherwise)."""
    for page in (ROOT / "examples" / "mr-tuning" / "README.md", ROOT / "docs" / "tuning.md"):
        assert 'skops_trusted_types=["sklearn.tree._tree.Tree"]' in page.read_text(), page
