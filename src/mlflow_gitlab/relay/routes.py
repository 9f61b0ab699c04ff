"""What the relay serves: an allow-list of MLflow routes, matched on a normalised path (pure).

A request path must hold no encoded slash (`%2F`: MLflow clients never send one), and once
percent-decoded it must be plain: absolute, without `.` or `..` segments, empty segments
(`//`), backslashes, `%` (a second encoding), `?`, `#` or control characters. Only such
a path naming an allow-listed route is served; the relay answers anything else 404
itself, so it never reaches the tracking server. What is forwarded is rebuilt from the
normalised path, and the query from its parsed parameters.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode

MLFLOW = "/api/2.0/mlflow/"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
# The MLflow endpoints GitLab serves under a project: lib/api/ml/mlflow/experiments.rb,
# runs.rb, metrics.rb, registered_models.rb and model_versions.rb.
GITLAB_ENDPOINTS = frozenset({
    "experiments/get", "experiments/get-by-name", "experiments/list", "experiments/search",
    "experiments/create", "experiments/set-experiment-tag", "experiments/delete",
    "runs/create", "runs/get", "runs/search", "runs/update", "runs/delete",
    "runs/log-metric", "runs/log-parameter", "runs/set-tag", "runs/log-batch",
    "metrics/get-history",
    "registered-models/create", "registered-models/get", "registered-models/update",
    "registered-models/get-latest-versions", "registered-models/delete",
    "registered-models/search", "registered-models/alias",
    "model-versions/create", "model-versions/get", "model-versions/update",
    "model-versions/get-download-uri",
})
# What the relay itself serves on GitLab, which GitLab lacks (MLflow 3).
RELAY_ENDPOINTS = frozenset({"runs/log-inputs", "runs/outputs"})
LOGGED_MODELS = "logged-models"
# A plain MLflow server's REST API; its UI, health and other routes are not relayed.
PLAIN_PREFIXES = ("/api/2.0/mlflow/", "/api/3.0/mlflow/", "/api/2.0/mlflow-artifacts/")
_REFUSED_CHARACTERS = frozenset("%\\?#") | {chr(c) for c in range(0x20)} | {"\x7f"}


def normalised(raw: str) -> str | None:
    """The decoded path of a request target, or None if it is not a plain path."""
    if not raw.startswith("/"):
        return None  # absolute-form (`http://host/...`), `*`, or nothing
    if "%2f" in raw.lower():
        return None
    try:
        path = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    if _REFUSED_CHARACTERS.intersection(path):
        return None
    if any(segment in ("", ".", "..") for segment in path[1:].split("/")):
        return None
    return path


def is_served(path: str, *, gitlab: bool) -> bool:
    """Whether a normalised `path` is an MLflow route the relay serves or forwards."""
    if not gitlab:
        return path.startswith(PLAIN_PREFIXES)
    if path == ARTIFACTS or path.startswith(ARTIFACTS + "/"):
        return True
    if not path.startswith(MLFLOW):
        return False
    endpoint = path[len(MLFLOW):]
    return (endpoint in GITLAB_ENDPOINTS or endpoint in RELAY_ENDPOINTS
            or endpoint.split("/")[0] == LOGGED_MODELS)


def encoded(path: str) -> str:
    """A normalised path as it goes on the wire, each segment percent-encoded."""
    return quote(path, safe="/:")


def canonical_query(query: str) -> str:
    """The query rebuilt from its parameters, so nothing but parameters is forwarded."""
    return urlencode(parse_qsl(query, keep_blank_values=True))
