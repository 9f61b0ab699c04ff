"""GitLab's error bodies, written out once, byte for byte as the reference gives them."""

from __future__ import annotations

UNAUTHORIZED = {"message": "401 Unauthorized"}
FORBIDDEN = {"message": "403 Forbidden"}
PROJECT_NOT_FOUND = {"message": "404 Project Not Found"}
NOT_FOUND = {"message": "404 Not Found"}  # `not_found!` with no subject
RECORD_NOT_FOUND = {"message": "404 Not found"}  # ActiveRecord::RecordNotFound, rescued
ROUTE_NOT_FOUND = {"error": "404 Not Found"}  # the catch-all of unknown routes
SERVER_ERROR = {"message": "500 Internal Server Error"}
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": (
        "The request requires higher privileges than provided by the access token."),
    "scope": "api read_api",
}
NOT_EXIST = {"error_code": "RESOURCE_DOES_NOT_EXIST"}
ALREADY_EXISTS = {"error_code": "RESOURCE_ALREADY_EXISTS"}
