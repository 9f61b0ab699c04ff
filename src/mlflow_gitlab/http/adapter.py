"""The transport under every session: connections that answer to a deadline, large writes.

Each connection attaches itself to the deadline of the request it carries (see
`deadline.py`), and every answer's body is read under it: a chunk that arrives after the
deadline, or a read the watchdog cut, raises `DeadlineExceeded`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from mlflow_gitlab.http import deadline as deadlines

BLOCK = 1 << 20  # bytes per socket write; urllib3's 16 KiB default costs upload throughput


class _Attaching:
    """Mixed into urllib3's connections: each request attaches to the current deadline."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        found = deadlines.current()
        if found is not None:
            found.attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _Connection(_Attaching, HTTPConnection):
    pass


class _TLSConnection(_Attaching, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


_POOLS = {"http": _Pool, "https": _TLSPool}


class Answer(requests.Response):
    """A response whose body is read under its request's deadline."""

    deadline: deadlines.Deadline | None = None

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False
                     ) -> Iterator[Any]:
        found = self.deadline
        if found is None or self._content_consumed:
            yield from super().iter_content(chunk_size, decode_unicode)
            return
        try:
            for chunk in super().iter_content(chunk_size, decode_unicode):
                found.check()
                yield chunk
        except requests.RequestException as exc:
            if found.passed and not isinstance(exc, deadlines.DeadlineExceeded):
                raise found.error() from exc
            raise
        finally:
            if self._content_consumed:
                found.close()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.deadline is not None:
                self.deadline.close()


class Adapter(HTTPAdapter):
    """requests' adapter on connections that honour deadlines, writing 1 MiB at a time."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["blocksize"] = BLOCK
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme") and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        response.__class__ = Answer  # adds behaviour only, no state of its own
        response.deadline = deadlines.current()  # type: ignore[attr-defined]
        return response
