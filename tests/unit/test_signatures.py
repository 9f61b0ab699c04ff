"""Signature comparison on real MLflow signatures (infer_signature on small frames)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.models import infer_signature
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from mlflow_gitlab.errors import ReleaseError
from mlflow_gitlab.tracking.signatures import compare, parse_mlmodel
from mlflow_gitlab.versioning import Bump

BASE = pd.DataFrame({"age": [31.0, 45.0], "income": [1.5, 2.5], "city": ["a", "b"]})
SCORE = pd.Series([0.1, 0.9], name="score")


def mlmodel(signature: ModelSignature | None) -> str:
    """The MLmodel text `mlflow.<flavor>.save_model` writes, with this signature."""
    doc = {"artifact_path": "model", "flavors": {"python_function": {"loader_module": "x"}},
           "mlflow_version": "2.16.0"}
    if signature is not None:
        doc["signature"] = signature.to_dict()
    return yaml.safe_dump(doc)


def change(old: ModelSignature | None, new: ModelSignature | None):
    return compare(parse_mlmodel(mlmodel(old)), parse_mlmodel(mlmodel(new)))


def sig(frame: pd.DataFrame = BASE, output=SCORE, params=None) -> ModelSignature:
    return infer_signature(frame, output, params=params)


def with_optional(frame: pd.DataFrame, name: str) -> ModelSignature:
    base = sig(frame)
    columns = [*base.inputs.inputs, ColSpec("double", name, required=False)]
    return ModelSignature(inputs=Schema(columns), outputs=base.outputs)


def test_same_signature_is_a_patch():
    result = change(sig(), sig(BASE[["city", "income", "age"]]))  # order does not matter
    assert (result.bump, result.reasons) == (Bump.PATCH, ("same signature",))


def test_removed_input_is_major():
    result = change(sig(), sig(BASE.drop(columns="city")))
    assert result.bump is Bump.MAJOR and "input 'city' removed" in result.reasons


def test_retyped_input_is_major():
    result = change(sig(), sig(BASE.assign(city=[1.0, 2.0])))
    assert result.bump is Bump.MAJOR
    assert result.reasons == ("input 'city' retyped from string to double",)


def test_new_required_input_is_major():
    result = change(sig(), sig(BASE.assign(height=[1.7, 1.8])))
    assert (result.bump, result.reasons) == (Bump.MAJOR, ("new required input 'height'",))


def test_new_optional_input_is_minor():
    result = change(sig(), with_optional(BASE, "height"))
    assert (result.bump, result.reasons) == (Bump.MINOR, ("new optional input 'height'",))


def test_required_becomes_optional_is_minor_and_back_is_major():
    optional = with_optional(BASE.drop(columns="income"), "income")
    assert change(sig(), optional).bump is Bump.MINOR
    assert change(optional, sig()).reasons == ("input 'income' is now required",)


def test_changed_output_is_major():
    result = change(sig(), sig(output=pd.Series(["x", "y"], name="score")))
    assert (result.bump, result.reasons) == (Bump.MAJOR, ("outputs changed",))
    assert change(sig(), sig(output=None)).bump is Bump.MAJOR


def test_nested_type_change_is_major():
    old = sig(BASE.assign(tags=[[1.0], [2.0]]))
    new = sig(BASE.assign(tags=[["a"], ["b"]]))
    assert change(old, new).bump is Bump.MAJOR


def test_params_new_is_minor_removed_or_retyped_is_major():
    assert change(sig(), sig(params={"threshold": 0.5})).reasons == ("new param 'threshold'",)
    assert change(sig(params={"threshold": 0.5}), sig()).bump is Bump.MAJOR
    assert change(sig(params={"t": 0.5}), sig(params={"t": "high"})).bump is Bump.MAJOR
    assert change(sig(params={"t": 0.5}), sig(params={"t": 0.7})).bump is Bump.MINOR


def test_any_tensor_change_is_major():
    x = np.zeros((2, 3), dtype=np.float32)
    same = change(infer_signature(x, np.zeros(2)), infer_signature(x.copy(), np.zeros(2)))
    assert same.bump is Bump.PATCH
    wider = change(infer_signature(x, np.zeros(2)),
                   infer_signature(np.zeros((2, 4), dtype=np.float32), np.zeros(2)))
    assert wider.bump is Bump.MAJOR


def test_column_to_tensor_is_major():
    tensor = infer_signature(np.zeros((2, 3), dtype=np.float32), np.zeros(2))
    assert change(sig(), tensor).bump is Bump.MAJOR


def test_missing_signatures():
    assert change(None, None).bump is Bump.PATCH
    assert change(None, sig()).bump is Bump.MAJOR
    assert change(sig(), None).reasons == ("the candidate declares no signature",)


def test_several_changes_take_the_largest_and_list_every_reason():
    new = with_optional(BASE.drop(columns="city"), "height")
    result = change(sig(), new)
    assert result.bump is Bump.MAJOR
    assert set(result.reasons) == {"input 'city' removed", "new optional input 'height'"}


def test_malformed_mlmodel_is_a_clear_error():
    with pytest.raises(ReleaseError, match="not valid YAML"):
        parse_mlmodel("signature: [unclosed", "model/MLmodel")
    with pytest.raises(ReleaseError, match="model/MLmodel has a malformed signature"):
        parse_mlmodel("signature:\n  inputs: 'not json'\n", "model/MLmodel")


PARITY = [
    sig(),
    sig(BASE.assign(tags=[[1.0], [2.0]], meta=[{"k": 1, "v": "a"}, {"k": 2, "v": "b"}]),
        params={"threshold": 0.5, "layers": [1, 2], "name": "x"}),
    infer_signature(np.zeros((2, 3), dtype=np.float32), np.zeros(2)),
    with_optional(BASE, "height"),
]
HAND_WRITTEN = [  # what older MLflow versions and hand-edited MLmodel files hold
    '[{"type": "double", "name": "a"}, {"type": "string", "name": "b"}]',
    '[{"type": "double"}, {"type": "string"}]',
    '[{"type": "object", "name": "o", "required": false, "properties":'
    ' {"x": {"type": "long"}, "y": {"type": "array", "items": {"type": "string"},'
    ' "required": false}}}]',
    '[{"type": "map", "name": "m", "required": true, "values": {"type": "double"}}]',
]


def mlflow_form(schema: Schema) -> list[dict]:
    """MLflow's own `to_dict`, with tensor shapes as lists (they come back as tuples)."""
    forms = schema.to_dict()
    for form in forms:
        if "tensor-spec" in form:
            form["tensor-spec"]["shape"] = list(form["tensor-spec"]["shape"])
            form["required"] = True  # a TensorSpec is always required; to_dict leaves it out
    return forms


@pytest.mark.parametrize("signature", [*(s.to_dict() for s in PARITY),
                                        *({"inputs": part} for part in HAND_WRITTEN)])
def test_a_signature_reads_as_mlflow_reads_it(signature):
    """The parser without MLflow's schema classes (and numpy) keeps MLflow's meaning."""
    from mlflow.types.schema import ParamSchema

    ours = parse_mlmodel(yaml.safe_dump({"signature": signature}))
    for part in ("inputs", "outputs"):
        if signature.get(part):
            assert [s.to_dict() for s in getattr(ours, part)] == \
                mlflow_form(Schema.from_json(signature[part]))
    if signature.get("params"):
        theirs = ParamSchema.from_json(signature["params"]).to_dict()
        assert list(ours.params) == [
            {**p, "shape": None if p["shape"] is None else list(p["shape"])} for p in theirs]


def test_signatures_are_read_without_numpy():
    """A release job installs no numpy: reading and comparing signatures must not need it."""
    text = mlmodel(sig(params={"threshold": 0.5}))
    code = ("import sys; sys.modules['numpy'] = None\n"
            "from mlflow_gitlab.tracking.signatures import compare, parse_mlmodel\n"
            f"s = parse_mlmodel({text!r})\n"
            "print(compare(s, s).bump.name, 'numpy' in sys.modules and sys.modules['numpy'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["PATCH", "None"]


@pytest.mark.parametrize("inputs, problem", [
    ('{"a": 1}', "a schema must be a JSON list of objects"),
    ('[{"type": "long", "name": "a"}, {"type": "long"}]', "a schema mixes named and unnamed"),
    ('[{"name": "a"}]', "a type without 'type'"),
    ('[{"type": "tensor", "name": "a"}]', "a tensor without 'tensor-spec'"),
    ('[{"type": "object", "name": "o"}]', "an object type without 'properties'"),
])
def test_a_malformed_schema_names_its_problem(inputs, problem):
    with pytest.raises(ReleaseError, match=f"malformed signature: {problem}"):
        parse_mlmodel(yaml.safe_dump({"signature": {"inputs": inputs}}), "MLmodel")
