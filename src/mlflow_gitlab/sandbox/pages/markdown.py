"""GitLab-flavoured Markdown to safe HTML: tables, inline HTML such as `<sub>`, and xycharts.

As GitLab does (`lib/banzai/filter/sanitization_filter.rb`), raw HTML in a note is sanitized;
a Mermaid `xychart-beta` block, which GitLab draws in the browser, is drawn here as SVG.
"""

from __future__ import annotations

import json
import re
import secrets
from functools import cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from mlflow_gitlab.sandbox.pages.charts import bar_chart

_LINE = re.compile(r"^\s*(title|x-axis|y-axis|bar|line)\s+(.*?)\s*$")


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def render(text: str) -> Markup:
    """`text` as sanitized HTML, with each xychart drawn in place of its code block."""
    parser = _parser()
    tokens = parser.parse(text)
    nonce = secrets.token_hex(8)
    charts: list[Markup] = []
    for token in tokens:
        if token.type == "fence" and token.info.strip() == "mermaid":
            chart = xychart(token.content)
            if chart is not None:
                token.type, token.content = "html_block", f"<p>chart-{nonce}-{len(charts)}</p>\n"
                charts.append(chart)
    body = nh3.clean(parser.renderer.render(tokens, parser.options, {}))
    for index, chart in enumerate(charts):
        body = body.replace(f"<p>chart-{nonce}-{index}</p>", f'<figure>{chart}</figure>')
    return Markup(body)


def xychart(source: str) -> Markup | None:
    """A Mermaid `xychart-beta` of one bar series and an optional line, or None."""
    lines = source.strip().splitlines()
    if not lines or lines[0].strip() != "xychart-beta":
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        match = _LINE.match(line)
        if match:
            fields.setdefault(match[1], match[2])
    try:
        labels = [str(label) for label in json.loads(fields.get("x-axis", "[]"))]
        bars = [float(v) for v in json.loads(fields.get("bar", "[]"))]
        line = [float(v) for v in json.loads(fields.get("line", "[]"))]
    except (TypeError, ValueError):
        return None
    if len(labels) != len(bars):
        return None
    title = fields.get("title", "").strip('"')
    return bar_chart(title, labels, bars, reference=line[0] if line else None)
