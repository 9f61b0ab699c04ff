"""`mlflow-gitlab report`: gather, compare, render, write the files, post the note."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace

from mlflow_gitlab import env as variables
from mlflow_gitlab import redaction
from mlflow_gitlab.context import CIContext, collect_context
from mlflow_gitlab.errors import ConfigError, NotesUnavailable
from mlflow_gitlab.gitlab_api import GitLabClient, connect
from mlflow_gitlab.output.file import check_writable, write_text
from mlflow_gitlab.report.compare import compare
from mlflow_gitlab.report.metrics import write_metrics
from mlflow_gitlab.report.note import HOW_TO_ENABLE, NoteResult, upsert_note, why_no_note
from mlflow_gitlab.report.options import ReportOptions, ReportOutcome
from mlflow_gitlab.report.render import check_template, marker, render
from mlflow_gitlab.report.sources import collect
from mlflow_gitlab.settings import gitlab_settings, tracking_settings

log = logging.getLogger(__name__)


def make_report(options: ReportOptions, env: Mapping[str, str] | None = None
                ) -> ReportOutcome:
    """Write the report (and metrics.txt) and post it as the merge request's note.

    Without the means to post (no MR, a fork, only the job token, a token GitLab refuses)
    the files are still written and the reason is logged with how to enable notes.

    Raises:
        ConfigError: options or settings are unusable.
        MlflowGitlabError: the runs, the baseline or GitLab cannot be read.
    """
    env = dict(os.environ if env is None else env)
    context = collect_context(env)
    check_options(options, context)
    check_template(options.template)
    mr = context.merge_request
    if mr is not None and mr.from_fork and not variables.TRACKING_TOKEN.read(env):
        log.warning("fork merge request pipeline: the parent project's MLFLOW_TRACKING_TOKEN "
                    "does not reach forks, so there are no runs to report")
        return ReportOutcome(None)
    tracking = tracking_settings(env, options.tracking_uri)
    gitlab = gitlab_settings(env, required=False)
    if gitlab is not None and mr is not None and mr.project_id is not None:
        gitlab = replace(gitlab, project=str(mr.project_id))  # notes live in the target project
    client = connect(gitlab) if gitlab is not None else None


    data, rows = collect(options, env, context, tracking, client)
    comparison = compare(rows, options.metric, options.mode, data.baseline.value, options.top)
    body = redaction.redact(render(data, comparison, options.template))  # file and note
    write_text(options.output, body, "report", "--output")
    log.info("report on %d candidate(s) written to %s", len(rows), options.output)
    winner = comparison.winner
    if options.metrics_file is not None:
        write_metrics(options.metrics_file, winner.candidate.metrics if winner else {})
    note = _post(options, context, client, body, marker(data.subject),
                 data.merge_request.url if data.merge_request else None)
    return ReportOutcome(options.output, len(rows), winner.candidate.run_id if winner else None,
                         note)


def check_options(options: ReportOptions, context: CIContext) -> None:
    """Refuse options this job cannot honour, before anything is sent.

    Raises:
        ConfigError: the scope needs a pipeline or MR this job is not in, the baseline
            needs a model, or an output file cannot be written.
    """
    if options.baseline_kind == "latest-version" and not options.model:
        raise ConfigError("--baseline latest-version needs --model",
                          hint="name the registered model, or use --baseline target-branch")
    if options.scope == "merge-request" and context.merge_request is None:
        raise ConfigError("--scope merge-request needs a merge request pipeline "
                          "(CI_MERGE_REQUEST_IID is not set)", hint="use --scope pipeline")
    if options.scope == "pipeline" and context.pipeline.id is None:
        raise ConfigError("--scope pipeline needs a GitLab CI job (CI_PIPELINE_ID is not set)",
                          hint="run the report in a job of the pipeline whose runs it compares")
    check_writable(options.output, "report", "--output")
    if options.metrics_file is not None:
        check_writable(options.metrics_file, "metrics file", "--metrics-file")


def _post(options: ReportOptions, context: CIContext, client: GitLabClient | None,
          body: str, key: str, mr_url: str | None) -> NoteResult | None:
    """Post or update the note when this job can; otherwise say why and how to enable it."""
    mr = context.merge_request
    if not options.note or mr is None:
        log.info("no merge request note (%s)", "--no-note" if mr else "not an MR pipeline")
        return None
    reason = why_no_note(context, client.settings if client else None)
    if reason is None:
        assert client is not None
        try:
            note = upsert_note(client, mr.iid, body, key, mr_url)
        except NotesUnavailable as exc:
            reason = str(exc)
        else:
            log.info("merge request note %s: %s", note.action, note.url or note.note_id)
            return note
    log.warning("no merge request note: %s; the report is in %s", reason, options.output)
    if not mr.from_fork:
        log.warning("hint: %s", HOW_TO_ENABLE)
    return None
