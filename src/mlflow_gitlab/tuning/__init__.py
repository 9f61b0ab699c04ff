"""Hyperparameter tuning: search spaces and the GitLab YAML that fans them out."""
