"""The release itself: find or create this pipeline's version, deciding again on a collision."""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from mlflow_gitlab import tags as t
from mlflow_gitlab.context import CIContext
from mlflow_gitlab.errors import MlflowGitlabError, ReleaseError, VersionTaken
from mlflow_gitlab.output.sizes import human_size
from mlflow_gitlab.redaction import Redactor
from mlflow_gitlab.release import record as rec
from mlflow_gitlab.release.files import CandidateFiles, ReleaseFiles
from mlflow_gitlab.release.gate import Gate
from mlflow_gitlab.release.merged_request import MergedRequest, merged_request
from mlflow_gitlab.release.options import Release, ReleaseOptions
from mlflow_gitlab.release.select import select
from mlflow_gitlab.settings import (
    TrackingSettings,
    experiment_name,
    gitlab_settings,
    transfer_settings,
)
from mlflow_gitlab.tracking.registry import ModelVersion, Registry
from mlflow_gitlab.tracking.run_search import Candidate, RunSource
from mlflow_gitlab.tracking.runs import Tracker, scan_start_ms
from mlflow_gitlab.tracking.signatures import SignatureChange, compare
from mlflow_gitlab.versioning import (
    Bump,
    BumpDecision,
    SemVer,
    latest_release,
    override_bump,
    prerelease_of,
)

log = logging.getLogger(__name__)
MAX_CLAIMS = 20  # versions taken by concurrent releases before giving up


@dataclass(frozen=True)
class Plan:
    """The version to claim, and why."""

    target: SemVer
    decision: BumpDecision | None  # None for the model's first version
    previous: ModelVersion | None


class Releaser:
    """One release: the clients it needs and the steps it takes."""

    def __init__(self, options: ReleaseOptions, context: CIContext,
                 settings: TrackingSettings, env: Mapping[str, str]) -> None:
        self.options, self.context, self.env = options, context, env
        self.tracker = Tracker(settings)
        self.registry = Registry(self.tracker.api)
        self.runs = RunSource(settings, self.tracker.api)
        self.files = ReleaseFiles(gitlab_settings(env), transfer_settings(env), settings)
        self.gate = Gate.parse(options.max_regression) if options.max_regression else None
        self.initial = SemVer.parse(options.initial_version)
        if context.pipeline.id is not None:  # the versions this release owns (per pipeline)
            self.owner = (t.PIPELINE_ID, str(context.pipeline.id))
        else:
            self.owner = (rec.SOURCE_RUN, str(options.run_id))

    def run(self) -> Release:
        model = self.options.model
        mine = self._mine(self.registry.versions(model))
        if mine is not None:
            return self._resume(mine)
        candidate, selected_by = self._select()
        source = self.files.locate(candidate, self.options.model_path)
        self.registry.ensure_model(model)
        label = rec.pipeline_label(self.context, candidate.run_id)
        for attempt in range(1, MAX_CLAIMS + 1):
            versions = self.registry.versions(model)
            mine = self._mine(versions)
            if mine is not None:  # a concurrent attempt of this same pipeline won
                return self._resume(mine)
            plan = self._plan(versions, candidate, source)
            tags = rec.version_tags(self.context, source.provenance, selected_by, plan.decision,
                                    plan.previous.semver if plan.previous else None,
                                    Redactor.from_env(self.env))
            try:
                version = self.registry.create_version(
                    model, plan.target, tags, rec.incomplete_description(candidate.run_id, label))
            except VersionTaken:
                log.info("%s %s was taken by a concurrent release; deciding again", model,
                         plan.target)
                time.sleep(random.uniform(0.02, 0.1) * min(attempt, 5))
                continue
            log.info("created %s: %s", version.label, plan.decision or "the first version")
            self._complete(version, source, selected_by, plan.decision)
            return _result(version, created=True, completed=True)
        raise ReleaseError(f"{MAX_CLAIMS} versions of {model} in a row were taken by concurrent "
                           "releases before this one could claim one",
                           hint="re-run the release job")

    # --- steps ---------------------------------------------------------------------------

    def _select(self) -> tuple[Candidate, str]:
        o = self.options
        name = experiment_name(o.experiment, self.env, self.context)
        return select(self.runs, run_id=o.run_id, experiment=name,
                      pipeline_id=self.context.pipeline.id, metric=o.metric, mode=o.mode,
                      since_ms=scan_start_ms(self.context.pipeline.created_at))

    def _plan(self, versions: list[ModelVersion], candidate: Candidate,
              source: CandidateFiles) -> Plan:
        """Gate the candidate against the latest release, then decide the next version."""
        by_semver = {v.semver: v for v in versions if v.semver is not None}
        latest = latest_release(by_semver)
        if latest is None:
            plan = Plan(self.initial, None, None)
        else:
            previous = by_semver[latest]
            self._gate(candidate, previous)
            decision = self._decide(previous, source)
            plan = Plan(latest.bump(decision.bump), decision, previous)
        mr = self.context.merge_request
        if mr is not None:  # only reached with --prerelease
            return Plan(prerelease_of(plan.target, mr.iid, by_semver), plan.decision,
                        plan.previous)
        return plan

    def _gate(self, candidate: Candidate, previous: ModelVersion) -> None:
        if self.gate is None:
            return
        metric = str(self.options.metric)
        latest_value = rec.recorded_metric(previous.tags, metric)
        if latest_value is None:
            log.warning("%s records no %s: the regression gate does not apply", previous.label,
                        metric)
            return
        value = candidate.metrics.get(metric)
        if value is None:
            raise ReleaseError(f"run {candidate.run_id} has no metric {metric!r} to gate on")
        self.gate.check(metric, self.options.mode, value, latest_value, previous.label)

    def _decide(self, previous: ModelVersion, source: CandidateFiles) -> BumpDecision:
        override = self._override()
        change = self._change(previous, source, required=override is None)
        reasons = change.reasons if change else ()
        if override is None:
            assert change is not None
            return BumpDecision(change.bump, "signature", reasons)
        if change is not None and override[0].rank < change.bump.rank:
            log.warning("%s asks for a %s bump, below the %s bump the signature calls for (%s)",
                        override[1], override[0].value, change.bump.value, "; ".join(reasons))
        return BumpDecision(override[0], override[1], reasons)

    def _override(self) -> tuple[Bump, str] | None:
        """--bump, else the `model::` label of this MR or of the MR this commit was merged
        by, else the commit trailer."""
        mr = self.context.merge_request
        labels, merged = (mr.labels if mr else ()), None
        if mr is None and self.options.bump.lower() == "auto":
            merged = self._merged
            labels = merged.labels if merged else ()
        override = override_bump(self.options.bump, labels, self.context.commit.message)
        if override and merged and override[1].startswith("label "):
            return override[0], f"{override[1]} of {merged.reference}"
        return override

    @cached_property
    def _merged(self) -> MergedRequest | None:
        """The MR this branch pipeline's commit was merged by (asked once per release)."""
        return merged_request(self.context, self.env)

    def _change(self, previous: ModelVersion, source: CandidateFiles, required: bool
                ) -> SignatureChange | None:
        try:
            return compare(self.files.version_signature(previous),
                           self.files.candidate_signature(source))
        except MlflowGitlabError as exc:
            if required:
                raise
            log.warning("cannot compare signatures (%s); the override decides", exc)
            return None

    def _complete(self, version: ModelVersion, source: CandidateFiles, selected_by: str,
                  decision: BumpDecision | None) -> None:
        """Copy the files (manifest last), then say so in the description."""
        run_id = source.provenance.candidate.run_id
        label = rec.pipeline_label(self.context, run_id)
        try:
            copied = self.files.copy(source, version)
        except MlflowGitlabError as exc:
            problem = str(exc).splitlines()[0][:300]
            with contextlib.suppress(MlflowGitlabError):  # no manifest marks it anyway
                self.registry.set_description(
                    version, rec.incomplete_description(run_id, label, problem))
            raise ReleaseError(f"{version.label} was created but copying its files failed: "
                               f"{problem}", hint="re-run the release job: it completes this "
                                                  "version instead of making another") from exc
        log.info("copied %d file(s), %s, into %s", len(copied.files),
                 human_size(copied.total_size), version.label)
        self.registry.set_description(
            version, rec.complete_description(source.provenance, selected_by, label, decision))

    def _resume(self, version: ModelVersion) -> Release:
        """This pipeline's version from an earlier attempt: complete its files if needed."""
        if self.files.is_complete(version):
            log.info("%s was already released by this pipeline", version.label)
            return _result(version, created=False, completed=False)
        run_id = version.tags.get(rec.SOURCE_RUN)
        if not run_id:
            raise ReleaseError(f"{version.label} records no source run to copy files from")
        log.info("%s is incomplete: copying its files from run %s", version.label, run_id)
        source = self.files.locate(self.runs.get(run_id), version.tags.get(rec.MODEL_PATH),
                                   recorded=version.tags.get(rec.SOURCE_PACKAGE))
        self._complete(version, source, version.tags.get(rec.SELECTED_BY, "--run"),
                       rec.recorded_decision(version.tags))
        return _result(version, created=False, completed=True)

    def _mine(self, versions: list[ModelVersion]) -> ModelVersion | None:
        key, value = self.owner
        own = [v for v in versions if v.tags.get(key) == value]
        return min(own, key=lambda v: int(v.id)) if own else None


def _result(version: ModelVersion, *, created: bool, completed: bool) -> Release:
    """The result, read from what the version records (so a re-run reports the same)."""
    return Release(name=version.name, version=str(version.semver), version_id=version.id,
                   web_url=version.web_url, source_run_id=version.tags.get(rec.SOURCE_RUN, ""),
                   bump=version.tags.get(rec.BUMP, ""), created=created, completed=completed)

