"""Keep the CI/CD components' job set-up in one place and write the classic templates.

The job set-up (install mlflow-gitlab with uv, falling back to pip, with a download cache
keyed on the release) is written here once, into the marked blocks of every component in
ci-components/templates/. Generated from the components, in templates/:

- `<name>.yml`: the component without the component context (`spec:component`, which
  GitLab interpolates only for `include: component:`), for `include: project:` + `inputs:`;
- `mlflow-gitlab.yml`: hidden jobs for `extends:`, each input at its default, so a template
  job runs exactly the commands of its component.

    python scripts/ci_templates.py          # rewrite the blocks and the templates
    python scripts/ci_templates.py --check  # exit 1 if anything is stale (used by the tests)
"""

# ruff: noqa: E501  (the set-up shell lines stay whole, as the job logs show them)
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "ci-components" / "templates"
CLASSIC = ROOT / "templates" / "mlflow-gitlab.yml"
CONTEXT = '  component: [version]\n'

RELEASE = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]

# What every job sets up before its command, by block name. `$[[ component.version ]]` is
# empty for SHA and branch refs and outside the catalog; the release then pins the version.
# uv on the image (the default image has it) is used as it is; else uv is installed with pip
# and kept in the cache too, so a job with a warm cache does not install it again. uv installs
# from the cache alone first (`--offline`: no index revalidation, 3 of a warm job's 3.3 s), and
# from the index when the cache cannot satisfy the install (a cold cache fails at once).
# Every install is a statement of its own, not a non-final part of an `&&` list: the runner's
# shell stops at a failed command through `set -e` alone, which such a part escapes.
BLOCKS = {
    "variables": f"""\
    MLFLOW_GITLAB_SETUP_INSTALL: "$[[ inputs.install ]]"
    MLFLOW_GITLAB_SETUP_VERSION: "$[[ inputs.version ]]"
    MLFLOW_GITLAB_SETUP_COMPONENT_VERSION: "$[[ component.version ]]"
    MLFLOW_GITLAB_SETUP_RELEASE: "{RELEASE}"
    MLFLOW_GITLAB_SETUP_INDEX_URL: "$[[ inputs.index-url ]]"
    UV_CACHE_DIR: $CI_PROJECT_DIR/.mlflow-gitlab/cache/uv
    PIP_CACHE_DIR: $CI_PROJECT_DIR/.mlflow-gitlab/cache/pip
    UV_LINK_MODE: copy
""",
    "cache": """\
  cache:
    key: mlflow-gitlab-setup-$MLFLOW_GITLAB_SETUP_RELEASE
    paths: [.mlflow-gitlab/cache/]
    when: always
""",
    "script": """\
    - >-
      MLFLOW_GITLAB_SETUP_INSTALL="${MLFLOW_GITLAB_SETUP_INSTALL:-mlflow-gitlab==${MLFLOW_GITLAB_SETUP_VERSION:-${MLFLOW_GITLAB_SETUP_COMPONENT_VERSION:-$MLFLOW_GITLAB_SETUP_RELEASE}}}"
      UV="$(command -v uv || echo "$CI_PROJECT_DIR/.mlflow-gitlab/cache/uv-tool/bin/uv")"
    - >-
      "$UV" --version >/dev/null 2>&1 ||
      python -m pip install --quiet --disable-pip-version-check --target "${UV%/bin/uv}" uv ||
      echo "uv is not available; installing with pip"
    - >-
      if "$UV" --version >/dev/null 2>&1; then
      set -- pip install --python "$(command -v python)" --quiet
      ${MLFLOW_GITLAB_SETUP_INDEX_URL:+--extra-index-url "$MLFLOW_GITLAB_SETUP_INDEX_URL"}
      "$MLFLOW_GITLAB_SETUP_INSTALL" $MLFLOW_GITLAB_SETUP_REQUIREMENTS;
      "$UV" "$@" --offline 2>/dev/null || "$UV" "$@";
      else
      if [ -n "$MLFLOW_GITLAB_SETUP_INDEX_URL" ]; then python -m pip install --quiet --disable-pip-version-check --no-deps --index-url "$MLFLOW_GITLAB_SETUP_INDEX_URL" "$MLFLOW_GITLAB_SETUP_INSTALL"; fi;
      python -m pip install --quiet --disable-pip-version-check "$MLFLOW_GITLAB_SETUP_INSTALL" $MLFLOW_GITLAB_SETUP_REQUIREMENTS;
      fi
""",
}
BLOCK = re.compile(r"(?P<open>^ *# >>> set-up (?P<name>\w+)\n).*?(?P<close>^ *# <<< set-up\n)",
                   re.S | re.M)
INPUT = re.compile(r"\$\[\[ (inputs|component)\.([\w-]+) \]\]")
CLASSIC_HEADER = f"""\
# mlflow-gitlab {RELEASE} classic templates: hidden jobs for `extends:`, for GitLab instances
# without the CI/CD catalog. Generated from ci-components/templates/ by
# scripts/ci_templates.py; do not edit. Set a job's inputs as its `variables:` (see
# docs/components.md#classic-templates).
"""


def with_blocks(text: str) -> str:
    """A component's text with its marked set-up blocks rewritten."""
    return BLOCK.sub(lambda m: m["open"] + BLOCKS[m["name"]] + m["close"], text)


def split(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec:inputs, jobs) of a component's text."""
    header, jobs = yaml.safe_load_all(text)
    return header["spec"]["inputs"], jobs


def with_defaults(node: Any, inputs: dict[str, Any]) -> Any:
    """`node` with every input replaced by its default (required ones by nothing) and the
    component context, which templates lack, by an empty value."""
    if isinstance(node, dict):  # a key whose value is a required array goes, and so does
        # a mapping left empty by that (`parallel:` without its `matrix:`)
        kept = {k: with_defaults(v, inputs) for k, v in node.items()}
        kept = {k: v for k, v in kept.items() if v is not _REQUIRED}
        return kept if kept or not node else _REQUIRED
    if isinstance(node, list):
        return [with_defaults(item, inputs) for item in node]
    if not isinstance(node, str):
        return node
    whole = INPUT.fullmatch(node)
    if whole and whole[1] == "inputs":
        spec = inputs[whole[2]]
        return spec["default"] if "default" in spec else _required(spec)
    return INPUT.sub(lambda m: _text(m, inputs), node)


_REQUIRED = object()


def _required(spec: dict[str, Any]) -> Any:
    return _REQUIRED if spec.get("type") == "array" else ""


def _text(match: re.Match[str], inputs: dict[str, Any]) -> str:
    if match[1] == "component":
        return ""
    return _string(inputs[match[2]].get("default", ""))


def without_context(name: str, text: str) -> str:
    """The component as a file for `include: project:`: no component context, so its version
    falls back to the release this file belongs to."""
    assert CONTEXT in text, name
    return (f"# mlflow-gitlab {RELEASE}: the `{name}` component for `include: project:` (see "
            "docs/components.md). Generated from\n# ci-components/templates/ by "
            "scripts/ci_templates.py; do not edit.\n"
            + text.replace(CONTEXT, "", 1).replace('"$[[ component.version ]]"', "''"))


def _string(value: Any) -> str:
    """GitLab takes variables as strings: `true`, not a YAML boolean."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def classic(components: dict[str, str]) -> str:
    """The classic templates' text: one hidden `.mlflow-gitlab-<name>` job per component."""
    jobs: dict[str, Any] = {}
    for name, text in components.items():
        inputs, body = split(text)
        (job,) = body.values()
        job = with_defaults(job, inputs)
        job["variables"] = {k: _string(v) for k, v in job["variables"].items()}
        jobs[f".mlflow-gitlab-{name}"] = job
    return CLASSIC_HEADER + yaml.safe_dump(jobs, sort_keys=False, width=10_000,
                                           default_flow_style=False)


def main(check: bool) -> int:
    stale: list[Path] = []
    components: dict[str, str] = {}
    for path in sorted(COMPONENTS.glob("*.yml")):
        text = path.read_text()
        components[path.stem] = new = with_blocks(text)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new)
    outputs = {CLASSIC: classic(components)}
    outputs.update({CLASSIC.parent / f"{name}.yml": without_context(name, text)
                    for name, text in components.items()})
    for path, text in outputs.items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not check:
                path.parent.mkdir(exist_ok=True)
                path.write_text(text)
    if check and stale:
        print("stale: " + ", ".join(str(p.relative_to(ROOT)) for p in stale)
              + "; run python scripts/ci_templates.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
