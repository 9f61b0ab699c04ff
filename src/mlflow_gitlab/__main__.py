"""Allow `python -m mlflow_gitlab`."""

from mlflow_gitlab.cli.main import main

if __name__ == "__main__":
    main()
