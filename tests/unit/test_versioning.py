"""Semver policy: versions, overrides, next release and prerelease numbering."""

from __future__ import annotations

import pytest

from mlflow_gitlab.errors import ConfigError, InvalidVersion
from mlflow_gitlab.versioning import (
    Bump,
    SemVer,
    bump_from_labels,
    bump_from_trailer,
    decide_bump,
    latest_release,
    next_release,
    prerelease_of,
)


def v(text: str) -> SemVer:
    return SemVer.parse(text)


@pytest.mark.parametrize("text", ["1.0.0", "0.1.0", "10.20.30", "1.2.3-mr.4.1", "1.0.0+build.5"])
def test_valid_versions_round_trip(text):
    assert str(v(text)) == text


@pytest.mark.parametrize("text", ["v1.0.0", "1.0", "01.2.3", "1.2.3-", "", "latest"])
def test_invalid_versions_are_rejected_with_a_hint(text):
    with pytest.raises(InvalidVersion) as info:
        v(text)
    assert "semantic version" in str(info.value) and info.value.hint
    assert info.value.exit_code == 2
    assert SemVer.maybe(text) is None


def test_versions_order_by_semver_not_by_text():
    assert v("1.10.0") > v("1.9.0")
    assert v("1.2.3-mr.1.10") > v("1.2.3-mr.1.9")
    assert v("1.2.3-mr.1.1") < v("1.2.3")
    assert sorted([v("2.0.0"), v("1.10.0"), v("1.2.0")]) == [v("1.2.0"), v("1.10.0"), v("2.0.0")]


@pytest.mark.parametrize(("latest", "bump", "expected"), [
    ("1.2.3", Bump.PATCH, "1.2.4"),
    ("1.2.3", Bump.MINOR, "1.3.0"),
    ("1.2.3", Bump.MAJOR, "2.0.0"),
    ("0.3.1", Bump.MAJOR, "1.0.0"),
])
def test_next_release_bumps_the_latest(latest, bump, expected):
    assert str(next_release(v(latest), bump, v("1.0.0"))) == expected


def test_first_release_is_the_configured_start():
    assert str(next_release(None, Bump.MAJOR, v("1.0.0"))) == "1.0.0"
    assert str(next_release(None, Bump.PATCH, v("0.1.0"))) == "0.1.0"


def test_latest_release_ignores_prereleases():
    versions = [v("1.2.0"), v("2.0.0-mr.3.1"), v("1.3.0"), v("1.10.0-mr.1.1")]
    assert str(latest_release(versions)) == "1.3.0"
    assert latest_release([v("1.0.0-mr.1.1")]) is None


def test_prereleases_count_up_per_release_and_merge_request():
    existing = [v("1.3.0-mr.7.1"), v("1.3.0-mr.7.2"), v("1.3.0-mr.8.5"), v("1.4.0-mr.7.9")]
    assert str(prerelease_of(v("1.3.0"), 7, existing)) == "1.3.0-mr.7.3"
    assert str(prerelease_of(v("1.3.0"), 8, existing)) == "1.3.0-mr.8.6"
    assert str(prerelease_of(v("1.3.0"), 9, existing)) == "1.3.0-mr.9.1"
    assert str(prerelease_of(v("2.0.0"), 7, existing)) == "2.0.0-mr.7.1"


def test_scoped_label_sets_the_bump():
    assert bump_from_labels(["ml", "model::minor"]) == (Bump.MINOR, "model::minor")
    assert bump_from_labels(["ml", "Model::MAJOR"]) == (Bump.MAJOR, "Model::MAJOR")
    assert bump_from_labels(["ml"]) is None
    assert bump_from_labels(["model::patch", "model::major"])[0] is Bump.MAJOR


def test_unknown_label_value_fails_rather_than_guessing():
    with pytest.raises(ConfigError, match="label 'breaking'"):
        bump_from_labels(["model::breaking"])


@pytest.mark.parametrize(("message", "expected"), [
    ("Retrain\n\nModel-Bump: minor", Bump.MINOR),
    ("Retrain\n\nmodel-bump:   MAJOR  \nSigned-off-by: dev", Bump.MAJOR),
    ("Retrain\n\nModel-Bump: major\n\nSee merge request ml/demo!3\nModel-Bump: patch", Bump.PATCH),
    ("Retrain with Model-Bump: major in the text", None),
    ("", None),
    (None, None),
])
def test_commit_trailer(message, expected):
    assert bump_from_trailer(message) is expected


def test_invalid_trailer_fails_with_a_hint():
    with pytest.raises(ConfigError) as info:
        bump_from_trailer("x\n\nModel-Bump: huge")
    assert "Model-Bump" in str(info.value) and info.value.hint


def test_precedence_flag_then_label_then_trailer_then_signature():
    msg = "x\n\nModel-Bump: major"
    assert decide_bump("minor", ["model::patch"], msg, Bump.PATCH).source == "--bump"
    decision = decide_bump("auto", ["model::patch"], msg, Bump.MINOR, ["new optional input"])
    assert (decision.bump, decision.source) == (Bump.PATCH, "label model::patch")
    assert decision.reasons == ("new optional input",)
    decision = decide_bump("auto", [], msg, Bump.PATCH)
    assert (decision.bump, decision.source) == (Bump.MAJOR, "commit trailer Model-Bump")
    decision = decide_bump("auto", [], "plain", Bump.MINOR)
    assert (decision.bump, decision.source) == (Bump.MINOR, "signature")


def test_an_override_that_wins_hides_a_bad_lower_one():
    assert decide_bump("auto", ["model::minor"], "x\n\nModel-Bump: huge", Bump.PATCH).bump \
        is Bump.MINOR
