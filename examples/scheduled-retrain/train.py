"""Retrain a ridge regression on this week's data: a fresh sample of scikit-learn's diabetes set.

A scheduled pipeline runs it; the data it sees changes with DATA_SNAPSHOT (the pipeline's
number by default), standing in for data that grows between runs. The model's signature does
not change, so each release is a patch. `mlflow-gitlab run` created the run (MLFLOW_RUN_ID);
the plain `mlflow` calls below log to it.
"""

from __future__ import annotations

import os
import shutil

import mlflow
import mlflow.sklearn
import numpy as np
import sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

OUTPUT = "outputs/model"


def main() -> None:
    snapshot = int(os.environ.get("DATA_SNAPSHOT") or os.environ.get("CI_PIPELINE_IID") or 0)
    alpha = float(os.environ.get("ALPHA", "0.5"))
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    rows = np.random.default_rng(snapshot).choice(len(features), size=350, replace=False)
    x_train, x_val, y_train, y_val = train_test_split(
        features.iloc[rows], target.iloc[rows], test_size=0.25, random_state=0)
    model = Ridge(alpha=alpha).fit(x_train, y_train)
    rmse = float(np.sqrt(mean_squared_error(y_val, model.predict(x_val))))
    with mlflow.start_run():
        mlflow.log_params({"alpha": alpha, "data_snapshot": snapshot, "rows": len(rows)})
        mlflow.log_metric("val_rmse", rmse)
    shutil.rmtree(OUTPUT, ignore_errors=True)
    mlflow.sklearn.save_model(
        model, OUTPUT, signature=infer_signature(x_val, model.predict(x_val)),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
    print(f"snapshot {snapshot}: val_rmse={rmse:.2f}")


if __name__ == "__main__":
    main()
