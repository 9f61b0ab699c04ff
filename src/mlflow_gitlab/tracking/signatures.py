"""MLflow model signatures: read one from an `MLmodel` file and say how much a change bumps.

Pure given the MLmodel text, and free of MLflow's schema classes (they import numpy, 40% of
a job's install, for what is JSON): a signature is read the way `Schema.from_json` and
`ParamSchema.from_json` read it, in the form their `to_dict` gives (`required` defaults to
true, nested `object`/`array`/`map` types normalised alike); a test keeps the two in step.

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


class _Malformed(ValueError):
    """A signature part that `Schema.from_json` would refuse."""


@dataclass(frozen=True)
class Spec:
    """One input or output: a column (`type` names it) or a tensor (`type` is "tensor")."""

    name: str | None
    required: bool
    described: dict[str, Any]  # everything but name and required, nested types normalised

    @property
    def tensor(self) -> bool:
        return self.described["type"] == "tensor"

    def to_dict(self) -> dict[str, Any]:
        named = {} if self.name is None else {"name": self.name}
        return {**self.described, **named, "required": self.required}


@dataclass(frozen=True)
class Signature:
    """A model's declared interface; each part is None when the model does not declare it."""

    inputs: tuple[Spec, ...] | None = None
    outputs: tuple[Spec, ...] | None = None
    params: tuple[dict[str, Any], ...] | None = None  # name, type, default, shape


@dataclass(frozen=True)
class SignatureChange:
    """How much the interface changed, with one human reason per difference."""

    bump: Bump
    reasons: tuple[str, ...]


def parse_mlmodel(text: str, where: str = MLMODEL) -> Signature | None:
    """The signature declared in MLmodel YAML `text`, or None when it declares none.

    Raises:
        ReleaseError: the file is not YAML or its signature is malformed.
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
        if not isinstance(raw, dict):
            raise _Malformed("not a mapping of inputs, outputs and params")
        return Signature(inputs=_schema(raw.get("inputs")), outputs=_schema(raw.get("outputs")),
                         params=_param_schema(raw.get("params")))
    except _Malformed as exc:
        raise ReleaseError(f"{where} has a malformed signature: {exc}") from None


def _entries(part: Any) -> list[dict[str, Any]] | None:
    """A schema's JSON list (MLmodel keeps it as a JSON string), None when not declared."""
    if not part:
        return None
    try:
        entries = json.loads(part) if isinstance(part, str) else part
    except json.JSONDecodeError as exc:
        raise _Malformed(f"not JSON ({exc})") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _Malformed("a schema must be a JSON list of objects")
    return entries or None


def _schema(part: Any) -> tuple[Spec, ...] | None:
    entries = _entries(part)
    if entries is None:
        return None
    specs = tuple(_spec(entry) for entry in entries)
    if len({spec.tensor for spec in specs}) > 1:
        raise _Malformed("a schema mixes tensors and columns")
    if len({spec.name is None for spec in specs}) > 1:
        raise _Malformed("a schema mixes named and unnamed inputs")
    return specs


def _spec(entry: dict[str, Any]) -> Spec:
    if entry.get("type") == "tensor" and not isinstance(entry.get("tensor-spec"), dict):
        raise _Malformed("a tensor without 'tensor-spec'")
    described = _type_of({k: v for k, v in entry.items() if k not in ("name", "required")})
    return Spec(entry.get("name"), _required(entry), described)


def _required(entry: dict[str, Any]) -> bool:
    """MLflow's default: an input or a property is required unless it says otherwise."""
    return entry.get("required", True) is not False


def _type_of(described: Any) -> dict[str, Any]:
    """A type as `to_dict` gives it: nested object properties required unless said not."""
    if not isinstance(described, dict) or not isinstance(described.get("type"), str):
        raise _Malformed(f"a type without 'type': {json.dumps(described)[:80]}")
    kind = described["type"]
    if kind == "object":
        properties = described.get("properties")
        if not isinstance(properties, dict):
            raise _Malformed("an object type without 'properties'")
        return {**described, "properties": {
            name: {**_type_of(prop), "required": _required(prop)}
            for name, prop in properties.items()}}
    if kind == "tensor":
        shape = described["tensor-spec"].get("shape")
        return {**described, "tensor-spec": {**described["tensor-spec"],
                                             "shape": None if shape is None else list(shape)}}
    inner = {"array": "items", "map": "values"}.get(kind)
    return {**described, inner: _type_of(described.get(inner))} if inner else described


def _param_schema(part: Any) -> tuple[dict[str, Any], ...] | None:
    entries = _entries(part)
    if entries is None:
        return None
    if not all(isinstance(e.get("name"), str) and isinstance(e.get("type"), str)
               for e in entries):
        raise _Malformed("a param without 'name' or 'type'")
    return tuple({"name": e["name"], "type": e["type"], "default": e.get("default"),
                  "shape": e.get("shape")} for e in entries)


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


def _inputs(old: tuple[Spec, ...] | None, new: tuple[Spec, ...] | None) -> list[tuple[Bump, str]]:
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [(Bump.MAJOR, "inputs declared" if old is None else "inputs no longer declared")]
    if any(spec.tensor or spec.name is None for spec in (*old, *new)):
        # Tensors and unnamed columns are matched by position: any change breaks callers.
        return [] if old == new else [(Bump.MAJOR, "tensor or unnamed inputs changed")]
    before = {spec.name: spec for spec in old}
    after = {spec.name: spec for spec in new}
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


def _outputs(old: tuple[Spec, ...] | None, new: tuple[Spec, ...] | None) -> list[tuple[Bump, str]]:
    return [] if old == new else [(Bump.MAJOR, "outputs changed")]


def _params(old: tuple[dict[str, Any], ...] | None,
            new: tuple[dict[str, Any], ...] | None) -> list[tuple[Bump, str]]:
    before = {p["name"]: p for p in old or ()}
    after = {p["name"]: p for p in new or ()}
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


def _type(spec: Spec) -> str:
    """The spec's type without name and required: `long`, or JSON for nested types."""
    described = spec.described
    if set(described) == {"type"}:
        return str(described["type"])
    return json.dumps(described, sort_keys=True, separators=(",", ":"))
