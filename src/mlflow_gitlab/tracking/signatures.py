"""MLflow model signatures: read one from an `MLmodel` file and say how much a change bumps.

Pure given the MLmodel text. Parsing uses MLflow's own `Schema`/`ParamSchema` (what
`ModelSignature.from_dict` builds), which need numpy but not pandas.

Rules (by input name for column-based signatures):
    removed or retyped input, new required input, optional -> required,
    any output change, removed or retyped param, any tensor-based change      -> major
    new optional input, required -> optional, new param, changed param default -> minor
    nothing changed                                                           -> patch
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlflow_gitlab.errors import ReleaseError
from mlflow_gitlab.versioning import Bump

MLMODEL = "MLmodel"


@dataclass(frozen=True)
class Signature:
    """A model's declared interface; each part is an MLflow schema object or None."""

    inputs: Any = None  # mlflow.types.schema.Schema
    outputs: Any = None  # mlflow.types.schema.Schema
    params: Any = None  # mlflow.types.schema.ParamSchema


@dataclass(frozen=True)
class SignatureChange:
    """How much the interface changed, with one human reason per difference."""

    bump: Bump
    reasons: tuple[str, ...]


def parse_mlmodel(text: str, where: str = MLMODEL) -> Signature | None:
    """The signature declared in MLmodel YAML `text`, or None when it declares none.

    Raises:
        ReleaseError: the file is not YAML or its signature is malformed; or numpy is missing.
    """
    import yaml

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReleaseError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    raw = document.get("signature") if isinstance(document, dict) else None
    if not raw:
        return None
    try:
        from mlflow.types.schema import ParamSchema, Schema
    except ImportError as exc:  # mlflow-skinny without numpy
        raise ReleaseError(f"reading model signatures needs numpy ({exc})",
                           hint="install numpy in the release job, or pass --bump") from None
    try:
        return Signature(
            inputs=Schema.from_json(raw["inputs"]) if raw.get("inputs") else None,
            outputs=Schema.from_json(raw["outputs"]) if raw.get("outputs") else None,
            params=ParamSchema.from_json(raw["params"]) if raw.get("params") else None)
    except Exception as exc:  # MlflowException, JSON or key errors: all mean "malformed"
        raise ReleaseError(f"{where} has a malformed signature: {exc}") from None


def compare(old: Signature | None, new: Signature | None) -> SignatureChange:
    """How much moving from `old` (the latest version's) to `new` (the candidate's) bumps."""
    if old is None and new is None:
        return SignatureChange(Bump.PATCH, ("neither version declares a signature",))
    if old is None:
        return SignatureChange(Bump.MAJOR, ("the latest version declares no signature",))
    if new is None:
        return SignatureChange(Bump.MAJOR, ("the candidate declares no signature",))
    changes = [*_inputs(old.inputs, new.inputs), *_outputs(old.outputs, new.outputs),
               *_params(old.params, new.params)]
    if not changes:
        return SignatureChange(Bump.PATCH, ("same signature",))
    bump = max((b for b, _ in changes), key=lambda b: b.rank)
    return SignatureChange(bump, tuple(reason for _, reason in changes))


def _inputs(old: Any, new: Any) -> list[tuple[Bump, str]]:
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [(Bump.MAJOR, "inputs declared" if old is None else "inputs no longer declared")]
    if (old.is_tensor_spec() or new.is_tensor_spec()
            or not old.has_input_names() or not new.has_input_names()):
        # Tensors and unnamed columns are matched by position: any change breaks callers.
        same = _specs(old) == _specs(new)
        return [] if same else [(Bump.MAJOR, "tensor or unnamed inputs changed")]
    before = {spec.name: spec for spec in old.inputs}
    after = {spec.name: spec for spec in new.inputs}
    changes = [(Bump.MAJOR, f"input {name!r} removed") for name in before if name not in after]
    for name, spec in after.items():
        was = before.get(name)
        if was is None:
            kind = Bump.MAJOR if spec.required else Bump.MINOR
            changes.append((kind, f"new {'required' if spec.required else 'optional'} "
                                  f"input {name!r}"))
        elif _type(was) != _type(spec):
            changes.append((Bump.MAJOR, f"input {name!r} retyped from {_type(was)} to "
                                        f"{_type(spec)}"))
        elif was.required != spec.required:
            changes.append((Bump.MAJOR, f"input {name!r} is now required") if spec.required
                           else (Bump.MINOR, f"input {name!r} is now optional"))
    return changes


def _outputs(old: Any, new: Any) -> list[tuple[Bump, str]]:
    before = _specs(old) if old is not None else None
    after = _specs(new) if new is not None else None
    return [] if before == after else [(Bump.MAJOR, "outputs changed")]


def _params(old: Any, new: Any) -> list[tuple[Bump, str]]:
    before = {p.name: p.to_dict() for p in (old.params if old is not None else [])}
    after = {p.name: p.to_dict() for p in (new.params if new is not None else [])}
    changes = [(Bump.MAJOR, f"param {name!r} removed") for name in before if name not in after]
    for name, spec in after.items():
        was = before.get(name)
        if was is None:
            changes.append((Bump.MINOR, f"new param {name!r}"))  # params always have defaults
        elif (was["type"], was["shape"]) != (spec["type"], spec["shape"]):
            changes.append((Bump.MAJOR, f"param {name!r} retyped"))
        elif was["default"] != spec["default"]:
            changes.append((Bump.MINOR, f"param {name!r} default changed"))
    return changes


def _specs(schema: Any) -> list[dict[str, Any]]:
    return [spec.to_dict() for spec in schema.inputs]


def _type(spec: Any) -> str:
    """The spec's type without name and required: `long`, or JSON for nested types."""
    described = {k: v for k, v in spec.to_dict().items() if k not in ("name", "required")}
    if set(described) == {"type"}:
        return str(described["type"])
    return json.dumps(described, sort_keys=True, separators=(",", ":"))
