"""Write each CI/CD component's inputs table, from its `spec:inputs`, into the docs.

Tables sit between `<!-- inputs:NAME -->` and `<!-- /inputs:NAME -->` in
ci-components/README.md and docs/components.md, so the prose around them stays hand-written.

    python scripts/component_docs.py          # rewrite the tables
    python scripts/component_docs.py --check  # exit 1 if a table is stale (used by the tests)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "ci-components" / "templates"
TARGETS = [ROOT / "ci-components" / "README.md", ROOT / "docs" / "components.md"]
BLOCK = re.compile(r"(<!-- inputs:(?P<name>[\w-]+) -->\n).*?(<!-- /inputs:(?P=name) -->)", re.S)


def table(name: str) -> str:
    header = yaml.safe_load((TEMPLATES / f"{name}.yml").read_text().split("\n---\n", 1)[0])
    rows = ["| input | type | default | description |", "|---|---|---|---|"]
    for key, spec in header["spec"]["inputs"].items():
        if "default" not in spec:
            default = "required"
        else:
            shown = spec["default"]
            if not isinstance(shown, str):
                shown = json.dumps(shown, separators=(", ", ": "))
            default = f"`{shown}`" if shown != "" else "`''`"
        extra = ""
        if "options" in spec:
            extra = " One of " + ", ".join(f"`{o}`" for o in spec["options"]) + "."
        description = (spec["description"] + extra).replace("|", "\\|")
        rows.append(f"| `{key}` | {spec['type']} | {default.replace('|', chr(92) + '|')} "
                    f"| {description} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m[1] + table(m["name"]) + m[3], text)


def main(check: bool) -> int:
    stale = []
    for target in TARGETS:
        text = target.read_text()
        new = render(text)
        if new != text:
            stale.append(target)
            if not check:
                target.write_text(new)
    if check and stale:
        print("stale: " + ", ".join(str(p.relative_to(ROOT)) for p in stale)
              + "; run python scripts/component_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
