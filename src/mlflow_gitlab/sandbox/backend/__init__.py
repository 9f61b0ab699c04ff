"""The sandbox's state and GitLab's rules over it, free of HTTP: one module per concept.

Functions take the `Store` and plain values, return sqlite3 Rows or dataclasses, and raise
the exceptions of `backend.errors`; the routes map those to GitLab's error bodies.
"""
