"""A job's environment from a data folder: GitLab's variables for it at the folder's address.

`mlflow-gitlab sandbox env` prints it, `make demo` runs its jobs with it: one definition of
what GitLab sets for a job (`backend.ci_variables`), read from the folder's store, with the
URL the folder records (`address.py`), whether or not its sandbox is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow_gitlab.errors import ConfigError, SandboxError
from mlflow_gitlab.sandbox.address import recorded
from mlflow_gitlab.sandbox.backend import tokens
from mlflow_gitlab.sandbox.backend.ci_variables import job_variables
from mlflow_gitlab.sandbox.backend.errors import NotFound
from mlflow_gitlab.sandbox.backend.jobs import get_job, newest_job_ids
from mlflow_gitlab.sandbox.backend.store import Store
from mlflow_gitlab.sandbox.data_dir import DATABASE

TRACKING_TOKEN = "MLFLOW_TRACKING_TOKEN"


@dataclass(frozen=True)
class JobEnv:
    """A job's variables, the job's status (its token works only while it is `running`) and
    the sandbox's URL."""

    variables: dict[str, str]
    status: str
    url: str


def job_env(data_dir: Path, job_id: int, token_key: str | None = None) -> JobEnv:
    """GitLab's variables for job `job_id` of the sandbox kept in `data_dir`; with `token_key`
    (a seed key: `developer`, `maintainer`, ...), also `MLFLOW_TRACKING_TOKEN` holding that
    access token, as the project's CI/CD variable would.

    Raises:
        ConfigError: `data_dir` holds no sandbox, or `token_key` names no access token.
        SandboxError: the folder was never served (no recorded address), or no job `job_id`.
    """
    data_dir = Path(data_dir)
    if not (data_dir / DATABASE).is_file():
        raise ConfigError(f"data directory {data_dir} holds no sandbox (no {DATABASE})",
                          hint="give --data the folder of 'mlflow-gitlab sandbox serve --data'")
    address = recorded(data_dir)
    if address is None:
        raise SandboxError(f"data directory {data_dir} has no recorded address",
                           hint=f"serve it once: mlflow-gitlab sandbox serve --data {data_dir}")
    store = Store(data_dir)
    try:
        job = get_job(store, job_id)
        try:
            variables = job_variables(store, job_id, address.url)
        except NotFound:
            job = None
        if job is None:
            ids = ", ".join(map(str, newest_job_ids(store, 5)))
            raise SandboxError(f"the sandbox in {data_dir} has no job {job_id}",
                               hint=f"its newest jobs: {ids}" if ids else None)
        if token_key is not None:
            value = tokens.access_token(store, token_key)
            if value is None:
                keys = ", ".join(tokens.access_token_keys(store))
                raise ConfigError(f"--with-token {token_key!r} names no access token of the "
                                  f"sandbox", hint=f"one of: {keys}")
            variables[TRACKING_TOKEN] = value
        return JobEnv(variables, job["status"], address.url)
    finally:
        store.close()
