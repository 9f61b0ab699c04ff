"""`mlflow-gitlab run`: wrap a command in an MLflow run tagged with its CI context."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_gitlab import env as variables
from mlflow_gitlab import tags as t
from mlflow_gitlab.context import CIContext, collect_context
from mlflow_gitlab.errors import MlflowGitlabError, PackageUploadError
from mlflow_gitlab.output.dotenv import check_dotenv_path, write_dotenv
from mlflow_gitlab.redaction import Redactor
from mlflow_gitlab.run.command_env import TRACKING_TOKEN, kept_tokens, without_tokens
from mlflow_gitlab.run.process import resolve_command, run_child
from mlflow_gitlab.settings import experiment_name, tracking_settings
from mlflow_gitlab.tracking.job_link import linkable
from mlflow_gitlab.tracking.web_pages import where_to_see

if TYPE_CHECKING:
    from mlflow_gitlab.gitlab_api import GitLabClient
    from mlflow_gitlab.packages import Progress
    from mlflow_gitlab.tracking.runs import Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    command: Sequence[str]
    experiment: str | None = None
    run_name: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    tracking_uri: str | None = None
    dotenv: Path | None = None
    artifacts: Sequence[Path] = ()  # uploaded to the run's package after the command
    follow_symlinks: bool = False  # of the artifacts: even links leading out of their folder
    progress: Progress | None = None  # shows the artifacts' upload
    relay: bool = True  # the command tracks through a local relay (batching, no token)
    journal: bool = True  # its metric points reach the relay through a journal file
    keep_job_token: bool = False  # the command keeps CI_JOB_TOKEN (command_env)


def run_tracked(options: RunOptions, env: Mapping[str, str] | None = None) -> int:
    """Create the run, run the command in it, close the run; return the command's exit code.

    Raises:
        MlflowGitlabError: settings, the tracking server or the command are unusable; in
            that case no run is left RUNNING.
    """
    env = dict(os.environ if env is None else env)
    argv = resolve_command(options.command, env)
    if options.dotenv is not None:
        check_dotenv_path(options.dotenv)
    context = collect_context(env)
    keep = kept_tokens(job_token=options.keep_job_token, tracking_token=False)
    if _fork_without_token(context, env):
        log.warning("fork merge request pipeline: the parent project's MLFLOW_TRACKING_TOKEN "
                    "does not reach forks; running the command without tracking")
        return run_child(argv, _untracked_env(without_tokens(env, keep=keep))).returncode
    settings = tracking_settings(env, options.tracking_uri)
    if settings.is_gitlab:
        t.check_params(options.params)
        t.check_run_name(options.run_name)
    else:
        log.info("%s is not a GitLab MLflow endpoint: GitLab-only steps are skipped",
                 settings.tracking_uri)
    # Where artifacts go is settled before the command runs, so a bad setting fails fast.
    gitlab = None
    if options.artifacts:
        from mlflow_gitlab.packages.run_outputs import run_client

        gitlab = run_client({**env, variables.TRACKING_URI.name: settings.tracking_uri})
    redactor = Redactor.from_env(env)
    run_tags = linkable(t.tags_for(context, redactor), context, settings.gitlab_api_url)
    name = experiment_name(options.experiment, env, context)

    from mlflow_gitlab.tracking.runs import Tracker, scan_start_ms

    tracker = Tracker(settings)
    experiment_id = tracker.ensure_experiment(name)
    parent_id = None
    if context.in_ci and context.pipeline.id is not None:
        parent_id = tracker.pipeline_run(
            experiment_id, _pipeline_tags(run_tags), context.pipeline.id,
            f"pipeline #{context.pipeline.iid or context.pipeline.id}",
            scan_start_ms(context.pipeline.created_at))
    run = tracker.start_run(experiment_id, options.run_name or t.run_name(context), run_tags,
                            options.params, parent_id)
    log.info("run %s (%s) in experiment %r", run.run_name, run.run_id, name)
    page = where_to_see(settings, context, run.run_id, run.experiment_id, run.artifact_uri)
    if page:
        log.info("see %s", page)
    outputs = {"MLFLOW_RUN_ID": run.run_id, "MLFLOW_EXPERIMENT_ID": experiment_id}
    child_env = {**env, **outputs, variables.TRACKING_URI.name: settings.tracking_uri,
                 variables.EXPERIMENT_NAME.name: name}
    if settings.is_gitlab:  # MLflow's own UI links do not exist on GitLab
        child_env.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    status = "FAILED"
    relay = None
    try:
        if options.dotenv is not None:
            write_dotenv(options.dotenv, outputs)
        if options.relay:
            from mlflow_gitlab.run.relay_session import start_for_child

            relay, child_env = start_for_child(settings, run.run_id, env, child_env,
                                               journal=options.journal, keep=keep)
        else:  # the command tracks itself: it needs the tracking token, and no other
            child_env = without_tokens(child_env, keep=(*keep, TRACKING_TOKEN))
        result = run_child(argv, child_env)
        status = result.status
        if options.artifacts and status == "KILLED":
            log.warning("the command was stopped: artifacts not uploaded")
        elif options.artifacts:
            try:
                _publish(options, gitlab, tracker, run.run_id, experiment_id,
                         strict=result.returncode == 0)
            except MlflowGitlabError as exc:
                status = "FAILED"  # the run's outputs are incomplete
                if result.returncode == 0:
                    raise
                log.error("outputs of the failed command were not uploaded: %s", exc)
        return result.returncode
    finally:
        if relay is not None:  # every point the command logged is sent before the run ends
            from mlflow_gitlab.run.relay_session import stop_after_child

            stop_after_child(relay)
        tracker.finish_run(run, status)
        log.info("run %s ended %s", run.run_id, status)
        if relay is not None:  # kept until the run ended, for `sync` after a kill
            relay.discard_journal()


def _publish(options: RunOptions, gitlab: GitLabClient | None, tracker: Tracker, run_id: str,
             experiment_id: str, *, strict: bool) -> None:
    """Upload the declared artifacts to the run's package and tag the run with it.

    With `strict` (the command succeeded) a missing path is an error; otherwise (it failed)
    whatever exists is uploaded, to help find out why.
    """
    if gitlab is None:
        log.info("artifacts not uploaded: no GitLab configured (set MLFLOW_GITLAB_URL, "
                 "MLFLOW_GITLAB_PROJECT and MLFLOW_GITLAB_TOKEN)")
        return
    from mlflow_gitlab.packages.run_outputs import publish_run_outputs

    missing = [str(p) for p in options.artifacts if not Path(p).exists()]
    if missing and strict:
        raise PackageUploadError(f"artifact path {missing[0]} does not exist",
                                 hint="check the paths the command writes its outputs to")
    existing = [p for p in options.artifacts if str(p) not in missing]
    if not existing:
        log.warning("no artifact path exists: nothing uploaded")
        return
    result = publish_run_outputs(tracker, run_id, experiment_id, existing, client=gitlab,
                                 progress=options.progress,
                                 follow_symlinks=options.follow_symlinks)
    log.info("artifacts: %d file(s) in package %s %s (%d uploaded, %d already there)",
             len(result.manifest.files), result.manifest.package, result.manifest.version,
             result.uploaded, result.skipped)


def _fork_without_token(context: CIContext, env: Mapping[str, str]) -> bool:
    """A fork's MR pipeline runs with the fork's variables: GitLab gives it no parent token."""
    mr = context.merge_request
    return bool(mr and mr.from_fork and not variables.TRACKING_TOKEN.read(env))


def _untracked_env(env: dict[str, str]) -> dict[str, str]:
    """The command's environment when nothing is tracked: its plain `mlflow` calls go to a
    local file store in the job's folder (MLflow 3's own default, `sqlite:`, needs
    SQLAlchemy, which mlflow-skinny lacks), unless the job chose a tracking URI itself.
    MLflow 3 refuses a file store unless `MLFLOW_ALLOW_FILE_STORE` allows it."""
    if not variables.TRACKING_URI.read(env):
        env[variables.TRACKING_URI.name] = (Path.cwd() / ".mlflow-gitlab" / "untracked").as_uri()
        env.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return env


def _pipeline_tags(job_tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a pipeline's parent run shares with its jobs (nothing job-specific)."""
    job_only = (t.JOB_ID, t.JOB_NAME, t.JOB_STAGE, t.JOB_URL, t.NODE_INDEX, t.NODE_TOTAL,
                t.SOURCE_NAME)
    return {k: v for k, v in job_tags.items()
            if k not in job_only and not k.startswith(t.MATRIX_PREFIX)}
