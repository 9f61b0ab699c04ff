"""GitLab's MLflow tracking server and model registry, as the helper's own calls use them."""
