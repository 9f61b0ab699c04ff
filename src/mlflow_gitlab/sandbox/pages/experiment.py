"""One experiment's page: `/<project>/-/ml/experiments/:iid`, its runs table and performance.

The table sorts on the server (`?sort=<column>&direction=asc|desc`, links in the headers);
the performance section draws one metric across the runs (`?metric=<key>`), a bar per run
in the order they were created, as GitLab's Performance tab does. `/-/ml/experiments/:iid.csv`
is the table as CSV, with the columns of `app/presenters/ml/candidates_csv_presenter.rb`.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from typing import Any
from urllib.parse import urlencode

from mlflow_gitlab.sandbox import web
from mlflow_gitlab.sandbox.backend.candidates import list_candidates, run_data
from mlflow_gitlab.sandbox.backend.ci_links import ci_links, users_by_id
from mlflow_gitlab.sandbox.backend.experiments import experiment_tags, find_experiment
from mlflow_gitlab.sandbox.backend.models import model_of_experiment
from mlflow_gitlab.sandbox.pages import candidate_table as table
from mlflow_gitlab.sandbox.pages.charts import bar_chart
from mlflow_gitlab.sandbox.pages.render import html, project_page
from mlflow_gitlab.sandbox.router import Router

PLOT_WIDTH, CHAR_WIDTH, MIN_LABEL = 560, 6.5, 6  # the bar chart's plot, 11px text
UNSAFE_CSV = re.compile(r"[=+\-@;]")  # GitLab's `CsvBuilder` prefixes such text with `'`


def register(router: Router) -> None:
    @project_page(router, "/-/ml/experiments/:iid.csv")  # before the page, which matches too
    def experiment_csv(request: web.Request, project: sqlite3.Row) -> web.Response:
        found, rows, columns, sort, descending = _runs(request, project)
        return web.Response(200, _csv(project, found, table.arrange(rows, sort, descending),
                                      columns), {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="candidates.csv"'})

    @project_page(router, "/-/ml/experiments/:iid")
    def experiment(request: web.Request, project: sqlite3.Row) -> web.Response:
        store = request.app.store
        found, rows, columns, sort, descending = _runs(request, project)
        keys = [column.key for column in columns]
        query = {key: values[-1] for key, values in request.query.items() if values}
        metrics = [column.name for column in columns if column.kind == "metric"]
        metric = query.get("metric") if query.get("metric") in metrics else (
            metrics[0] if metrics else None)
        state = {"sort": sort, "direction": "desc" if descending else "asc"}
        if metric is not None:
            state["metric"] = metric
        owner = users_by_id(store, [found["user_id"]]).get(found["user_id"])
        return html(
            "experiment.html", project=project, experiment=found, owner=owner,
            tags=experiment_tags(store, found["id"]),
            model=model_of_experiment(store, found),
            columns=columns, rows=table.arrange(rows, sort, descending),
            sort=sort, descending=descending,
            header_links={key: _link(state, sort=key, direction=(
                "asc" if key == sort and descending else "desc")) for key in keys},
            metrics=metrics, metric=metric,
            metric_links={key: _link(state, metric=key) for key in metrics},
            csv_link=f"{found['iid']}.csv" + _link(state),
            chart=_performance(rows, metric) if metric is not None else None)


def _runs(request: web.Request, project: sqlite3.Row
          ) -> tuple[sqlite3.Row, list[table.Row], list[table.Column], str, bool]:
    """The experiment, its table's rows and columns, and the sort the query asks for."""
    store = request.app.store
    found = find_experiment(store, project["id"], iid=request.path_param("iid"))
    candidates = list_candidates(store, found["id"])
    rows = table.build_rows(candidates, run_data(store, [c["id"] for c in candidates]),
                            ci_links(store, candidates))
    columns = table.columns(rows)
    query = {key: values[-1] for key, values in request.query.items() if values}
    sort = query.get("sort", "")
    if sort not in [column.key for column in columns]:
        sort = table.DEFAULT_SORT
    return found, rows, columns, sort, query.get("direction", "desc") != "asc"


def _csv(project: sqlite3.Row, experiment: sqlite3.Row, rows: list[table.Row],
         columns: list[table.Column]) -> str:
    """GitLab's CSV of the runs: ids, name, run id, times, then params and metrics."""
    params = [c.name for c in columns if c.kind == "param"]
    metrics = [c.name for c in columns if c.kind == "metric"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["project_id", "experiment_iid", "candidate_iid", "name", "external_id",
                     "start_time", "end_time", *params, *metrics])
    for row in rows:
        c = row.candidate
        values: list[Any] = [project["id"], experiment["iid"], c["iid"], c["name"], c["eid"],
                             c["start_time"], c["end_time"],
                             *(row.params.get(k) for k in params),
                             *(row.metrics.get(k) for k in metrics)]
        writer.writerow(["" if v is None else _safe(v) for v in values])
    return out.getvalue()


def _safe(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and UNSAFE_CSV.match(value) else value


def _link(state: dict[str, str], **changes: str) -> str:
    """This page's query string with `changes` applied (a header or picker link)."""
    return "?" + urlencode({**state, **changes})


def _performance(rows: list[table.Row], metric: str) -> object:
    """A bar per run that logged `metric`, oldest run first, labelled by name while names fit
    under their bars, else by candidate number."""
    chosen = sorted((row for row in rows if row.metrics.get(metric) is not None),
                    key=lambda row: (row.candidate["created_at"], row.candidate["id"]))
    fits = int(PLOT_WIDTH / max(len(chosen), 1) / CHAR_WIDTH)
    labels = [_short(row.candidate["name"] or "", fits) if fits >= MIN_LABEL
              else f"#{row.candidate['iid']}" for row in chosen]
    values = [float(row.metrics[metric] or 0.0) for row in chosen]
    return bar_chart(f"{metric}, latest value per run", labels, values)


def _short(name: str, chars: int) -> str:
    return name if len(name) <= chars else name[:chars - 1] + "…"
