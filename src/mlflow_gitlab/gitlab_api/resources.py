"""GitLab's REST resources of one project through python-gitlab, on our session and rules.

python-gitlab builds the URLs, follows the pagination and makes the objects; every request
still goes through the client's session (retries, deadlines, redirect rules, capped bodies),
each answer is checked for the shape the call expects (`read_json`, one `UnexpectedAnswer`
line), and a refusal becomes the client's error naming what to fix. Resources come back as
plain dicts, as GitLab sent them. File bodies, streamed, stay with `packages/`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import requests

from mlflow_gitlab.errors import GitLabAPIError, UnexpectedAnswer
from mlflow_gitlab.gitlab_api.client import GitLabClient
from mlflow_gitlab.gitlab_api.session import TIMEOUT, one_attempt
from mlflow_gitlab.http import read_json

PER_PAGE = 100  # GitLab's largest page
# Status -> what a refusal with it means to the caller: raises its own error, or returns
# the call's value (a delete answered 404 was done before).
Refusals = Mapping[int, Callable[[requests.Response, str], Any]]
NO_REFUSALS: Refusals = {}
_END = object()


@dataclass(frozen=True)
class _Shape:
    """What a successful answer must be: an object or a list of them, with `keys`."""

    kind: type
    keys: tuple[str, ...] = ()


_EXPECTED: ContextVar[_Shape | None] = ContextVar("mlflow_gitlab_expected", default=None)


class Refused(GitLabAPIError):
    """GitLab answered a call with an error status; `response` is the answer."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"{response.status_code} {response.reason}")
        self.response = response


def _backend() -> type:
    """python-gitlab's requests backend, checking every answer before python-gitlab reads it."""
    from gitlab._backends import RequestsBackend

    class CheckedBackend(RequestsBackend):  # type: ignore[misc]
        def http_request(self, *args: Any, **kwargs: Any) -> Any:
            result = super().http_request(*args, **kwargs)
            response = result.response
            if not response.ok:
                raise Refused(response)
            shape = _EXPECTED.get()
            if shape is not None and response.status_code != 204:
                read_json(response, shape.kind, keys=shape.keys)
            return result

    return CheckedBackend


class ProjectAPI:
    """The project's merge requests, notes, pipelines, commits, packages and the token's user.

    Every method raises the client's errors (`ConfigError` for a token or project GitLab
    refuses, `GitLabAPIError` otherwise, `UnexpectedAnswer` for an odd answer), except
    for the statuses given in `refusals`.
    """

    def __init__(self, client: GitLabClient) -> None:
        import gitlab

        # No token for python-gitlab: the session sends the one credentials header (and
        # drops it on a redirect to another origin), and its retries are ours.
        self.client = client
        self.gitlab = gitlab.Gitlab(client.settings.server_url, session=client.session,
                                    backend=_backend(), retry_transient_errors=False,
                                    timeout=TIMEOUT)
        self.project = self.gitlab.projects.get(client.settings.project, lazy=True)

    def current_user(self, refusals: Refusals = NO_REFUSALS) -> dict[str, Any]:
        """The token's user (`GET /user`)."""
        return self._one("read the token's user", ("id",),
                         lambda: self.gitlab.http_get("/user"), refusals)

    def merge_request(self, iid: int) -> dict[str, Any]:
        return self._one(f"read merge request !{iid}", ("iid",),
                         lambda: self.project.mergerequests.get(iid).asdict())

    def notes(self, iid: int, refusals: Refusals = NO_REFUSALS
              ) -> Iterator[dict[str, Any]]:
        """The merge request's notes, oldest first."""
        notes = self.project.mergerequests.get(iid, lazy=True).notes
        return self._each(f"list the notes of merge request !{iid}", ("id",),
                          lambda: notes.list(iterator=True, per_page=PER_PAGE, sort="asc",
                                             order_by="created_at"), refusals)

    def create_note(self, iid: int, body: str,
                    refusals: Refusals = NO_REFUSALS
                    ) -> dict[str, Any]:
        """One attempt at creating a note: a transient failure raises `TransientError`,
        for `create_once` to look before it tries again."""
        notes = self.project.mergerequests.get(iid, lazy=True).notes
        with one_attempt():
            return self._one(f"create a note on !{iid}", ("id",),
                             lambda: notes.create({"body": body}).asdict(), refusals)

    def update_note(self, iid: int, note_id: int, body: str,
                    refusals: Refusals = NO_REFUSALS
                    ) -> dict[str, Any]:
        notes = self.project.mergerequests.get(iid, lazy=True).notes
        return self._one(f"update note {note_id} of !{iid}", ("id",),
                         lambda: notes.update(note_id, {"body": body}), refusals)

    def delete_note(self, iid: int, note_id: int,
                    refusals: Refusals = NO_REFUSALS) -> None:
        notes = self.project.mergerequests.get(iid, lazy=True).notes
        self._call(f"delete note {note_id}", None, lambda: notes.delete(note_id), refusals)

    def pipelines(self, ref: str, status: str, newest: int) -> list[dict[str, Any]]:
        """The `newest` pipelines of `ref` with `status`, newest first."""
        return [p.asdict() for p in self._call(
            f"list the pipelines of {ref}", _Shape(list, ("id",)),
            lambda: self.project.pipelines.list(ref=ref, status=status, order_by="id",
                                                sort="desc", per_page=newest, get_all=False))]

    def commit_merge_requests(self, sha: str,
                              refusals: Refusals = NO_REFUSALS
                              ) -> list[dict[str, Any]]:
        """The merged merge requests that hold commit `sha`."""
        commit = self.project.commits.get(sha, lazy=True)
        return list(self._each(
            f"list the merge requests of commit {sha[:8]}", ("iid",),
            lambda: commit.merge_requests(state="merged", iterator=True, per_page=PER_PAGE),
            refusals))

    def packages(self, name: str, version: str | None = None, *,
                 keys: tuple[str, ...] = ("id",), what: str | None = None
                 ) -> Iterator[dict[str, Any]]:
        """The generic packages whose name holds `name` (GitLab matches a substring)."""
        query = {"package_type": "generic", "package_name": name}
        if version is not None:
            query["package_version"] = version
        return self._each(what or f"list the packages named {name}", keys,
                          lambda: self.project.packages.list(iterator=True, per_page=PER_PAGE,
                                                             **query))

    def package_files(self, package_id: int, what: str) -> Iterator[dict[str, Any]]:
        """A package's files, oldest first."""
        files = self.project.packages.get(package_id, lazy=True).package_files
        return self._each(what, ("id", "file_name", "size"),
                          lambda: files.list(iterator=True, per_page=PER_PAGE, order_by="id",
                                             sort="asc"))

    def _one(self, what: str, keys: tuple[str, ...], call: Callable[[], Any],
             refusals: Refusals = NO_REFUSALS) -> Any:
        return self._call(what, _Shape(dict, keys), call, refusals)

    def _each(self, what: str, keys: tuple[str, ...], call: Callable[[], Any],
              refusals: Refusals = NO_REFUSALS) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, each page checked as it arrives."""
        shape = _Shape(list, keys)
        items = iter(self._call(what, shape, lambda: iter(call()), refusals))
        while True:
            item = self._call(what, shape, lambda: next(items, _END))
            if item is _END:
                return
            yield item if isinstance(item, dict) else item.asdict()

    def _call(self, what: str, shape: _Shape | None, call: Callable[[], Any],
              refusals: Refusals = NO_REFUSALS) -> Any:
        """`call()`, its answers checked to have `shape`; a refusal answered by the
        function `refusals` has for its status, else by the client's `check`."""
        from gitlab.exceptions import GitlabError

        token = _EXPECTED.set(shape)
        try:
            return call()
        except Refused as exc:
            status = exc.response.status_code
            if status in refusals:
                return refusals[status](exc.response, what)
            self.client.check(exc.response, what)
            raise
        except GitlabError as exc:  # python-gitlab could not read what our checks let by
            raise UnexpectedAnswer(f"unexpected answer to {what}: {exc}") from None
        finally:
            _EXPECTED.reset(token)
