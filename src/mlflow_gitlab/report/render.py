"""Render a report as Markdown from a Jinja2 template a team can override, within the size
of a GitLab note.

The default template ships in the wheel (`mlflow_gitlab/templates/report.md.j2`). A team's
template (`--template PATH`) may extend it (`{% extends "mlflow_gitlab/report.md.j2" %}`)
and override single blocks. The hidden marker that finds the note again is added here, not
by the template, so no template can lose it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlflow_gitlab.errors import ReportTemplateError
from mlflow_gitlab.report.chart import mermaid_chart
from mlflow_gitlab.report.compare import Comparison, Mark
from mlflow_gitlab.report.model import ReportData, Row

NOTE_LIMIT = 1_000_000  # characters in a note body (GitLab's `doc/api/notes.md`)
DEFAULT_TEMPLATE = "mlflow_gitlab/report.md.j2"
MAX_PARAM_COLUMNS = 6
MAX_METRIC_COLUMNS = 4
MARKS = {Mark.BETTER: "✅ better", Mark.WORSE: "❌ worse",
         Mark.SAME: "\N{HEAVY MINUS SIGN} same", Mark.NONE: ""}


def marker(subject: str) -> str:
    """The hidden first line that finds this subject's note again in a merge request."""
    key = " ".join(subject.replace("--", "- -").split())
    return f"<!-- mlflow-gitlab:report model={key} -->"


def render(data: ReportData, comparison: Comparison, template: Path | None = None,
           limit: int = NOTE_LIMIT) -> str:
    """The report's Markdown, marker first, at most `limit` characters.

    When it is longer, fewer candidates are shown row by row (the rest are summarized)
    until it fits.

    Raises:
        ReportTemplateError: the template is missing or broken (the message says where).
    """
    env, name = _environment(template)

    def attempt(top: int) -> str:
        return f"{marker(data.subject)}\n{_render(env, name, data, comparison.shown(top))}"

    body = attempt(len(comparison.top))
    if len(body) <= limit:
        return body
    fits, fails = 0, len(comparison.top)  # the most rows that fit, found by bisection
    best = attempt(0)
    if len(best) > limit:  # a template too large even with no rows: cut it, visibly
        cut = "\n\n_(report cut to GitLab's note size limit)_\n"
        return best[:limit - len(cut)] + cut
    while fails - fits > 1:
        middle = (fits + fails) // 2
        text = attempt(middle)
        if len(text) <= limit:
            fits, best = middle, text
        else:
            fails = middle
    return best


def check_template(template: Path | None) -> None:
    """Load and parse `template` (the default when None) without rendering it, so a broken
    team template fails before anything is fetched.

    Raises:
        ReportTemplateError: the template is missing or does not parse.
    """
    import jinja2

    env, name = _environment(template)
    try:
        env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        raise ReportTemplateError(f"report template {exc.filename or exc.name}, line "
                                  f"{exc.lineno}: {exc.message}") from None


def template_context(data: ReportData, comparison: Comparison) -> dict[str, Any]:
    """The variables a template sees (documented in docs/report.md)."""
    rows = [s.candidate for s in comparison.rows]
    varying, common = _params(rows)
    metrics = sorted({k for r in rows for k in r.metrics} - {comparison.metric})
    return {
        "data": data, "subject": data.subject, "scope": data.scope,
        "experiment": data.experiment, "pipeline": data.pipeline,
        "merge_request": data.merge_request, "baseline": data.baseline,
        "metric": comparison.metric, "mode": comparison.mode,
        "direction": "lower is better" if comparison.mode == "min" else "higher is better",
        "comparison": comparison, "winner": comparison.winner, "top": comparison.top,
        "rest": comparison.rest, "count": len(comparison.rows),
        "param_columns": varying[:MAX_PARAM_COLUMNS],
        "hidden_params": max(0, len(varying) - MAX_PARAM_COLUMNS), "common_params": common,
        "metric_columns": metrics[:MAX_METRIC_COLUMNS],
        "hidden_metrics": max(0, len(metrics) - MAX_METRIC_COLUMNS),
        "chart": mermaid_chart(comparison.top, comparison.metric, comparison.mode,
                               comparison.baseline),
        "marks": {mark.value: text for mark, text in MARKS.items()},
    }


def _params(rows: Sequence[Row]) -> tuple[list[str], dict[str, str]]:
    """(keys whose values differ between candidates, the params all candidates share)."""
    keys = sorted({k for r in rows for k in r.params})
    varying = [k for k in keys if len({r.params.get(k) for r in rows}) > 1]
    common = {k: rows[0].params[k] for k in keys if k not in varying}
    return varying, common


def _render(env: Any, name: str, data: ReportData, comparison: Comparison) -> str:
    import jinja2

    try:
        text = env.get_template(name).render(template_context(data, comparison))
    except jinja2.TemplateSyntaxError as exc:
        raise ReportTemplateError(f"report template {exc.filename or exc.name}, line "
                                  f"{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise ReportTemplateError(f"report template {_where(exc, name)}: {exc}",
                                  hint="see docs/report.md for the variables a template "
                                       "sees") from None
    return text.strip() + "\n"


def _where(exc: BaseException, name: str) -> str:
    """`file, line N` of the innermost template frame of a render error (Jinja maps its
    frames back to template lines), else the template's name."""
    where, tb = name, exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _environment(template: Path | None) -> tuple[Any, str]:
    import jinja2

    default = jinja2.PackageLoader("mlflow_gitlab", "templates")
    loaders: list[jinja2.BaseLoader] = [jinja2.PrefixLoader({"mlflow_gitlab": default})]
    name = DEFAULT_TEMPLATE
    if template is not None:
        if not template.is_file():
            raise ReportTemplateError(f"report template {template} does not exist",
                                      hint="check --template / MLFLOW_GITLAB_REPORT_TEMPLATE")
        loaders.insert(0, jinja2.FileSystemLoader(str(template.parent)))
        name = template.name
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=num, signed=signed, change=change, pct=pct, cell=cell, label=label)
    return env, name


# --- filters ----------------------------------------------------------------------------


def num(value: float | None) -> str:
    """6 significant digits; `—` for no value, `NaN`/`inf` as logged."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    return f"{value:.6g}"


def signed(value: float | None) -> str:
    """A delta with its sign (`+0.012`, `-0.5`, `0`); `—` for none."""
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:+.4g}"


def change(value: float | None) -> str:
    """A delta in words, so no sign has to be read against "better": `0.04 lower`,
    `0.05 higher`, `no change`; `—` for none."""
    if value is None:
        return "—"
    if value == 0:
        return "no change"
    return f"{abs(value):.4g} {'lower' if value < 0 else 'higher'}"


def pct(value: float | None) -> str:
    """A relative delta as a signed percentage (`-16.0%`, `0%`); empty for none."""
    if value is None:
        return ""
    return "0%" if value == 0 else f"{value:+.1%}"


def cell(value: Any, width: int = 40) -> str:
    """Text safe in a Markdown table cell: one line, `|` escaped, no raw HTML, cut to
    `width` characters (see `shorten`)."""
    text = shorten(" ".join(str(value).split()), width)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(
        ">", "&gt;")


_MATRIX_NAME = re.compile(r"\A(?P<base>.*?) \[(?P<pairs>[^\[\]]+=[^\[\]]*)\]\Z")


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters with `…`. A matrix run's name
    (`train [LR=0.01, OPTIMIZER=adam]`) keeps every key: the job's name (the same for all
    candidates) is cut first, then the longest values; when the keys alone are too long,
    it is left longer than `width`."""
    if len(text) <= width:
        return text
    match = _MATRIX_NAME.match(text)
    if match is None:
        return text[:width - 1] + "…"
    keys, values = zip(*(pair.partition("=")[::2] for pair in match["pairs"].split(", ")),
                       strict=True)
    parts = [match["base"], *values]  # what may be cut; keys stay whole
    kept = [len(part) for part in parts]

    def joined() -> str:
        base, *shown = (part if n == len(part) else part[:n] + "…"
                        for part, n in zip(parts, kept, strict=True))
        return f"{base} [{', '.join(f'{k}={v}' for k, v in zip(keys, shown, strict=True))}]"

    while len(joined()) > width:
        cuttable = ([0] if kept[0] > 1 else []) or \
            [i for i in range(1, len(parts)) if kept[i] > 1]
        if not cuttable:
            break
        kept[max(cuttable, key=lambda i: kept[i])] -= 1
    return joined()


def label(value: Any, width: int = 60) -> str:
    """Text safe as a link's text in a table cell: also `[` and `]` escaped."""
    return cell(value, width).replace("[", "\\[").replace("]", "\\]")
