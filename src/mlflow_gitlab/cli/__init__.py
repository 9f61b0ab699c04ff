"""The `mlflow-gitlab` command line: thin click commands over the library."""
