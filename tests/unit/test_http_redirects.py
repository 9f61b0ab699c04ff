"""Which redirects keep credentials: only those to the same scheme, host and port."""

from __future__ import annotations

import pytest

from mlflow_gitlab.http import new_session


@pytest.mark.parametrize(("old", "new", "strip"), [
    ("https://gitlab.example.com/api/v4/x", "https://gitlab.example.com/api/v4/y", False),
    ("https://gitlab.example.com/x", "https://GITLAB.example.com:443/y", False),
    ("http://gitlab.example.com/x", "http://gitlab.example.com:80/y", False),
    ("http://gitlab.example.com/x", "https://gitlab.example.com/x", True),  # scheme
    ("https://gitlab.example.com/x", "https://gitlab.example.com:8443/x", True),  # port
    ("https://gitlab.example.com/x", "https://bucket.s3.amazonaws.com/x", True),  # host
    ("https://gitlab.example.com/x", "https://gitlab.example.com.evil/x", True),
])
def test_credentials_stay_with_their_origin(old, new, strip):
    session = new_session(deadline=1, user_agent="test")
    assert session.should_strip_auth(old, new) is strip
