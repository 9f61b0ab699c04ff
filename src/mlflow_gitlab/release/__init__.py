"""`mlflow-gitlab release`: make a pipeline's best run the next semver model version."""
