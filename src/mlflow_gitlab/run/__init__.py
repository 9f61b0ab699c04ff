"""`mlflow-gitlab run`: a tracked MLflow run around a child process."""
