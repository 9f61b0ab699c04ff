"""A tiny training script that uses nothing but plain `mlflow` calls.

It fits y = 3x + 2 by gradient descent, so it needs no ML library. Run it with
MLFLOW_TRACKING_URI pointing at a GitLab project's MLflow endpoint (or the sandbox's).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import mlflow


def fit(learning_rate: float, epochs: int, seed: int = 0) -> tuple[float, float, list[float]]:
    """Return (slope, intercept, loss per epoch) for noisy samples of y = 3x + 2."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1, 1) for _ in range(200)]
    ys = [3 * x + 2 + rng.gauss(0, 0.1) for x in xs]
    w = b = 0.0
    losses = []
    for _ in range(epochs):
        grad_w = sum(2 * (w * x + b - y) * x for x, y in zip(xs, ys, strict=False)) / len(xs)
        grad_b = sum(2 * (w * x + b - y) for x, y in zip(xs, ys, strict=False)) / len(xs)
        w, b = w - learning_rate * grad_w, b - learning_rate * grad_b
        losses.append(sum((w * x + b - y) ** 2 for x, y in zip(xs, ys, strict=False)) / len(xs))
    return w, b, losses


def main() -> None:
    learning_rate = float(os.environ.get("LEARNING_RATE", "0.1"))
    epochs = int(os.environ.get("EPOCHS", "30"))
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "quickstart"))
    with mlflow.start_run(run_name=f"lr={learning_rate}"):
        mlflow.log_params({"learning_rate": learning_rate, "epochs": epochs})
        w, b, losses = fit(learning_rate, epochs)
        for step, loss in enumerate(losses):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metric("final_loss", losses[-1])
        with tempfile.TemporaryDirectory() as tmp:
            # OUTPUT_DIR: files for `mlflow-gitlab run --artifacts` to upload as a package.
            out = Path(os.environ.get("OUTPUT_DIR") or tmp)
            out.mkdir(parents=True, exist_ok=True)
            model = out / "model.json"
            model.write_text(json.dumps({"slope": w, "intercept": b}))
            mlflow.log_artifact(str(model))
    print(f"trained: slope={w:.3f} intercept={b:.3f} final_loss={losses[-1]:.4f}")


if __name__ == "__main__":
    main()
