"""Find token values in everything a sandbox stored: tags, params, notes, names, files.

The `sandbox` fixture runs this after every test, so a leak anywhere in the suite (a token
copied into a run tag, a note, a package, a manifest) fails the test that caused it.
"""

from __future__ import annotations

from mlflow_gitlab.sandbox import Sandbox

_SKIP_TABLES = {"tokens", "meta"}  # where the sandbox itself keeps the tokens
_MAX_BLOB_BYTES = 64 << 20  # larger uploads are benchmark data, not tool output


def token_values(sandbox: Sandbox) -> set[str]:
    rows = sandbox.app.store.all("SELECT value FROM tokens")
    return {row["value"] for row in rows} | set(sandbox.tokens.values())


def find_leaks(sandbox: Sandbox) -> list[str]:
    """Where a token value appears, as `table.column` or `file <name>`."""
    store = sandbox.app.store
    tokens = token_values(sandbox)
    leaks = []
    tables = [r["name"] for r in store.all("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        if table in _SKIP_TABLES:
            continue
        columns = [c["name"] for c in store.all(f"PRAGMA table_info({table})")
                   if c["type"].upper() == "TEXT"]
        for column in columns:
            for row in store.all(f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL"):
                if any(token in row["v"] for token in tokens):
                    leaks.append(f"{table}.{column}")
    encoded = [token.encode() for token in tokens]
    for row in store.all("SELECT file_name, blob, size FROM package_files"):
        if row["size"] > _MAX_BLOB_BYTES:
            continue
        path = store.blob_path(row["blob"])
        if path.exists() and any(token in path.read_bytes() for token in encoded):
            leaks.append(f"file {row['file_name']}")
    return sorted(set(leaks))
