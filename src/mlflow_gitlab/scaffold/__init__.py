"""`mlflow-gitlab init`: a project's `.gitlab-ci.yml` and starter files."""
