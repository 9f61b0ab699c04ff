"""The one HTTP layer of our traffic to GitLab: sessions, deadlines, redirects and answers.

    session = new_session(deadline=120, user_agent="mlflow-gitlab/1.0",
                          credentials={"PRIVATE-TOKEN": token})
    project = read_json(session.get(url), dict, keys=("id",))
"""

from mlflow_gitlab.http.answers import (
    BODY_LIMIT,
    gitlab_message,
    json_or_none,
    read_body,
    read_json,
    server_of,
    short_url,
    transient_status,
    unexpected,
)
from mlflow_gitlab.http.deadline import DeadlineExceeded
from mlflow_gitlab.http.session import (
    HTTPSession,
    allow_transfer,
    new_session,
    transfer_seconds,
)

__all__ = [
    "BODY_LIMIT",
    "DeadlineExceeded",
    "HTTPSession",
    "allow_transfer",
    "gitlab_message",
    "json_or_none",
    "new_session",
    "read_body",
    "read_json",
    "server_of",
    "short_url",
    "transfer_seconds",
    "transient_status",
    "unexpected",
]
