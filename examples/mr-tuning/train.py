"""Train a logistic regression on scikit-learn's wine data; hyperparameters come from the env.

In a tuning job, `parallel:matrix` sets C and CLASS_WEIGHT; `mlflow-gitlab run` has
already created the run (MLFLOW_RUN_ID), so the plain `mlflow` calls below log to it. The
model is saved under outputs/model, which the job uploads as the run's package.
"""

from __future__ import annotations

import os
import shutil

import mlflow
import mlflow.sklearn
import sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

OUTPUT = "outputs/model"


def main() -> None:
    c = float(os.environ.get("C", "1.0"))
    class_weight = os.environ.get("CLASS_WEIGHT", "none")
    features, labels = load_wine(return_X_y=True, as_frame=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features, labels, test_size=0.3, random_state=0, stratify=labels)
    model = make_pipeline(StandardScaler(), LogisticRegression(
        C=c, class_weight=None if class_weight == "none" else class_weight, max_iter=500))
    model.fit(x_train, y_train)
    accuracy = accuracy_score(y_val, model.predict(x_val))
    loss = log_loss(y_val, model.predict_proba(x_val))
    with mlflow.start_run():
        mlflow.log_params({"C": c, "class_weight": class_weight})
        mlflow.log_metrics({"val_accuracy": accuracy, "val_loss": loss})
    shutil.rmtree(OUTPUT, ignore_errors=True)
    mlflow.sklearn.save_model(
        model, OUTPUT, signature=infer_signature(x_val, model.predict(x_val)),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
    print(f"C={c} class_weight={class_weight}: "
          f"val_accuracy={accuracy:.3f} val_loss={loss:.3f}")


if __name__ == "__main__":
    main()
