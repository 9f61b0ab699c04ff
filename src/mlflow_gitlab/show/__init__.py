"""Read-only views of what pipelines produced: a pipeline's runs and a model's versions."""
