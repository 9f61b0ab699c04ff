"""The tracked command's environment without the helper's API tokens.

The helper reads its tokens from the variables in `API_TOKENS`; the command gets none of
them, nor any other variable whose value holds one of those tokens (GitLab puts the job
token in CI_REGISTRY_PASSWORD, CI_DEPENDENCY_PROXY_PASSWORD and CI_REPOSITORY_URL too).
The job's own `CI_JOB_TOKEN` family stays only when asked for (`run --keep-job-token`), and
the tracking token only when the command talks to the server itself (`run --no-relay`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlflow_gitlab import env as variables

TRACKING_TOKEN = variables.TRACKING_TOKEN.name
JOB_TOKEN = "CI_JOB_TOKEN"
# Every variable the helper (or MLflow, for the tracking server) reads a credential from.
API_TOKENS = (TRACKING_TOKEN, "MLFLOW_TRACKING_PASSWORD", variables.TOKEN.name,
              "GITLAB_TOKEN", "GITLAB_PRIVATE_TOKEN", "PRIVATE_TOKEN", JOB_TOKEN)
_SHORTEST_SECRET = 8  # shorter values are not matched inside other variables


def without_tokens(env: Mapping[str, str], *, keep: Iterable[str] = ()) -> dict[str, str]:
    """`env` without the `API_TOKENS` variables (except those named in `keep`) and without
    any variable whose value contains one of the removed tokens."""
    kept = set(keep)
    removed = {name for name in API_TOKENS if name in env and name not in kept}
    secrets = {env[name].strip() for name in removed
               if len(env[name].strip()) >= _SHORTEST_SECRET}
    allowed = {env[name] for name in kept if env.get(name)}
    return {name: value for name, value in env.items()
            if name not in removed
            and (value in allowed or not any(secret in value for secret in secrets))}


def kept_tokens(*, job_token: bool, tracking_token: bool) -> tuple[str, ...]:
    """The token variables a command keeps, from `run`'s options."""
    return ((JOB_TOKEN,) if job_token else ()) + ((TRACKING_TOKEN,) if tracking_token else ())
