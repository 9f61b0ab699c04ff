"""The redactor masks every token the process read, in every form a line can carry it."""

from __future__ import annotations

import base64
import io
import logging
import secrets
import warnings
from urllib.parse import quote

import pytest

from mlflow_gitlab import redaction
from mlflow_gitlab.errors import ConfigError
from mlflow_gitlab.log import MaskingFilter
from mlflow_gitlab.settings import gitlab_settings, tracking_settings

TOKEN = "Xy7Pq/K93+mA2bLz0c1Q"  # no token shape: only knowing it masks it


def basic(credentials: str) -> str:
    return base64.b64encode(credentials.encode()).decode()


@pytest.mark.parametrize("form", [
    TOKEN,
    f" {TOKEN}\n",
    quote(TOKEN, safe=""),
    "".join(f"%{byte:02x}" for byte in TOKEN.encode()),
    basic(f"oauth2:{TOKEN}"),
    basic(f"gitlab-ci-token:{TOKEN}"),
    basic(TOKEN),
    basic(f"someone:{TOKEN}\n"),
    base64.urlsafe_b64encode(f"x:{TOKEN}".encode()).decode(),
])
def test_a_known_token_is_masked_in_every_form(form):
    text = redaction.Redactor([f"{TOKEN}\n"]).redact(f"before {form} after")
    assert text.split() == ["before", "[MASKED]", "after"], text


def test_echoed_credential_headers_lose_their_values_known_or_not():
    echoed = ("403 Forbidden: request GET /api/v4/projects/7 HTTP/1.1; PRIVATE-TOKEN: abc123def; "
              "JOB-TOKEN: zz9; Authorization: Bearer q.r-s_1; DEPLOY-TOKEN: d3p (x)")
    assert redaction.Redactor().redact(echoed) == (
        "403 Forbidden: request GET /api/v4/projects/7 HTTP/1.1; PRIVATE-TOKEN: [MASKED]; "
        "JOB-TOKEN: [MASKED]; Authorization: Bearer [MASKED]; DEPLOY-TOKEN: [MASKED] (x)")
    assert redaction.Redactor().redact("GET /x?private_token=abc&job_token=d HTTP/1.1") == \
        "GET /x?private_token=[MASKED]&job_token=[MASKED] HTTP/1.1"


def test_words_that_only_look_like_credentials_stay():
    text = "Basic authentication and Bearer tokens; the token in MLFLOW_GITLAB_TOKEN (403)"
    assert redaction.Redactor().redact(text) == text


def test_url_userinfo_is_removed_wherever_a_url_is_shown():
    shown = redaction.Redactor().redact(
        "cannot reach https://oauth2:whatever%2Fit%2Bis@gitlab.example.com/api/v4 (x)")
    assert shown == "cannot reach https://gitlab.example.com/api/v4 (x)"


def test_settings_register_every_token_they_read():
    personal, job = secrets.token_urlsafe(15), secrets.token_urlsafe(15)
    password = secrets.token_urlsafe(15) + "/+"
    tracking_settings({"MLFLOW_TRACKING_URI": f"https://oauth2:{quote(password, safe='')}"
                                              "@gitlab.example.com/api/v4/projects/7/ml/mlflow",
                       "MLFLOW_TRACKING_TOKEN": personal})
    gitlab_settings({"CI_JOB_TOKEN": job, "MLFLOW_GITLAB_URL": "https://gitlab.example.com",
                     "MLFLOW_GITLAB_PROJECT": "7"})
    text = redaction.redact(f"{personal} {job} {password} {basic('oauth2:' + password)}")
    assert text == " ".join(["[MASKED]"] * 4)


@pytest.mark.parametrize("value", [f"{TOKEN}\n", f" {TOKEN}", f"{TOKEN[:5]} {TOKEN[5:]}",
                                   f"{TOKEN}\x00x", f"{TOKEN}é", "\n"])
def test_a_token_that_cannot_be_sent_is_refused_naming_the_variable(value):
    env = {"MLFLOW_GITLAB_TOKEN": value, "MLFLOW_GITLAB_URL": "https://gitlab.example.com",
           "MLFLOW_GITLAB_PROJECT": "7"}
    with pytest.raises(ConfigError) as raised:
        gitlab_settings(env)
    assert str(raised.value).startswith("MLFLOW_GITLAB_TOKEN ")
    assert TOKEN[:5] not in str(raised.value) + str(raised.value.hint)
    assert raised.value.exit_code == 2


def test_log_records_and_their_tracebacks_are_masked():
    redaction.register(TOKEN)
    try:
        raise RuntimeError(f"echoed {TOKEN}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "call %s failed",
                                   (f"with {TOKEN}",), exc_info=__import__("sys").exc_info())
    MaskingFilter().filter(record)
    assert TOKEN not in record.getMessage() and TOKEN not in record.exc_text
    assert "RuntimeError: echoed [MASKED]" in record.exc_text


@pytest.fixture
def cli_logging():
    """The CLI's logging for one test, its handlers writing to a buffer; the loggers it
    changes are put back afterwards."""
    from mlflow_gitlab.log import configure_logging

    loggers = [logging.getLogger(name) for name in ("", "mlflow_gitlab", "py.warnings")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    shown = warnings.showwarning
    out = io.StringIO()
    try:
        configure_logging(0)
        for lg in loggers:
            for handler in lg.handlers:
                handler.setStream(out)
        yield out
    finally:
        logging.captureWarnings(False)
        warnings.showwarning = shown
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def test_warnings_and_other_libraries_records_go_through_the_masking_filter(cli_logging):
    redaction.register(TOKEN)
    warnings.showwarning(UserWarning(f"deprecated call with {TOKEN}"), UserWarning, __file__, 1)
    logging.getLogger("urllib3.connectionpool").warning("Retrying %s", f"oauth2:{TOKEN}@h")
    printed = cli_logging.getvalue()
    assert "UserWarning: deprecated call with [MASKED]" in printed
    assert "Retrying oauth2:[MASKED]@h" in printed and TOKEN not in printed


def test_the_cli_streams_mask_a_token_written_in_pieces():
    from mlflow_gitlab.cli.printer import RedactingStream

    redaction.register(TOKEN)
    out = io.StringIO()
    stream = RedactingStream(out)
    stream.write(f"Authorization: Basic {basic('oauth2:' + TOKEN)[:9]}")
    stream.write(f"{basic('oauth2:' + TOKEN)[9:]}\nprogress {TOKEN[:4]}")
    assert out.getvalue() == "Authorization: Basic [MASKED]\n"
    stream.write(f"{TOKEN[4:]}\r")
    stream.flush()
    assert out.getvalue() == "Authorization: Basic [MASKED]\nprogress [MASKED]\r"
