"""The starting point `init` writes next to `.gitlab-ci.yml`, only where files are missing.

A `train.py` that logs params and metrics with plain `mlflow` (for the default command), a
`space.yml` for `tune matrix` (when tuning without `--space`) and a `requirements.txt`
listing what that `train.py` imports. A file that exists is never overwritten: it is used
as it is (an existing `space.yml` is the tuning space, an existing `requirements.txt` is
installed). Deciding (`plan`) is pure; `write` is the only I/O.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.scaffold.pipeline import Choices, environment

SPACE = "space.yml"
REQUIREMENTS = "requirements.txt"
OUTPUTS = "outputs"  # where the starter train.py saves its model
_PYTHON = ("python", "python3")


@dataclass(frozen=True)
class Starter:
    """What `init` writes and uses: new files (path -> text), kept ones, and the choices
    adjusted to them (the space, `requirements`, `artifacts`)."""

    choices: Choices
    space: Path | None
    new: dict[Path, str]
    kept: tuple[Path, ...]


def plan(choices: Choices, root: Path, space: Path | None) -> Starter:
    """The starter files missing under `root`, and the choices that use them."""
    new: dict[Path, str] = {}
    kept: list[Path] = []
    env = environment()
    script = _script(choices.command, root)
    if script is not None and not script.exists():
        metric = choices.metric or "val_loss"
        new[script] = env.get_template("starter/train.py.j2").render(metric=metric,
                                                                       mode=choices.mode)
        if choices.artifacts is None:
            choices = dataclasses.replace(choices, artifacts=OUTPUTS)
    elif script is not None:
        kept.append(script)
    if space is None and choices.tune:
        space = root / SPACE
        if space.exists():
            kept.append(space)
        else:
            new[space] = env.get_template("starter/space.yml.j2").render()
    requirements = root / REQUIREMENTS
    if requirements.exists():
        kept.append(requirements)
    elif script in new:
        new[requirements] = env.get_template("starter/requirements.txt.j2").render()
    if choices.requirements is None and (requirements.exists() or requirements in new):
        choices = dataclasses.replace(choices, requirements=f"-r {REQUIREMENTS}")
    return Starter(choices, space, new, tuple(kept))


def write(starter: Starter) -> None:
    """Write the new files (each created exclusively: an existing one is never replaced)."""
    for path, text in starter.new.items():
        with path.open("x", encoding="utf-8") as fh:
            fh.write(text)


def space_text(starter: Starter) -> str | None:
    """The search space's YAML: the new file's text, or the existing file's."""
    if starter.space is None:
        return None
    if starter.space in starter.new:
        return starter.new[starter.space]
    return starter.space.read_text(encoding="utf-8")


def _script(command: str, root: Path) -> Path | None:
    """The script of a `python <file>.py ...` command, under `root`; None for other commands."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if len(argv) >= 2 and argv[0] in _PYTHON and argv[1].endswith(".py") \
            and not Path(argv[1]).is_absolute() and ".." not in Path(argv[1]).parts:
        script = root / argv[1]
        return script if script.parent.is_dir() else None
    return None
