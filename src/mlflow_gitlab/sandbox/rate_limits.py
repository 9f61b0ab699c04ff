"""Application rate limits the sandbox computes: GitLab's `notes_create` (per user).

`check_rate_limit! :notes_create, scope: current_user` in `lib/api/notes.rb` answers 429
`{"message":{"error":"This endpoint has been requested too many times. Try again later."}}`
(`render_exceeded_limit_error!` in `lib/api/helpers/rate_limiter.rb`, no `Retry-After`)
once a user made `notes_create_limit` notes within the minute (GitLab's default: 300).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from mlflow_gitlab.sandbox import web

PERIOD = 60.0  # seconds: `Gitlab::ApplicationRateLimiter`'s period for notes_create
EXCEEDED = "This endpoint has been requested too many times. Try again later."


class RateLimiter:
    """Counts each user's requests in the last minute against a limit (0: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[int, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, user_id: int) -> None:
        """Count one request of `user_id`; raise GitLab's 429 once over the limit."""
        if self.limit <= 0:
            return
        now = time.monotonic()
        with self._lock:
            seen = self._seen[user_id]
            while seen and seen[0] <= now - PERIOD:
                seen.popleft()
            seen.append(now)  # throttled requests count too, as the limiter's counter does
            if len(seen) > self.limit:
                raise web.ApiError(429, {"message": {"error": EXCEEDED}})
