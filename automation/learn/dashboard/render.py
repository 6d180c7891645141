"""Render :class:`DashboardData` as one self-contained ``index.html`` (inline CSS and SVG, no JS).

Numbers people check carry ``data-metric``/``data-value`` attributes naming their key in
``dashboard.json``; the browser test reads them back from the rendered DOM.
"""

from __future__ import annotations

from collections.abc import Sequence

from automation.learn.dashboard.data import DashboardData, FunnelRow
from automation.learn.dashboard.svg import (
    GREY,
    Bar,
    Series,
    Stack,
    column_chart,
    esc,
    hbar_chart,
    line_chart,
    metric_attrs,
    number,
    stacked_hbar,
)
from automation.registry.failures import CATEGORIES

STATUS_COLORS = {
    "pending": "#9aa5b1",
    "success": "#2f9e5b",
    "failed": "#d64545",
    "blocked": "#e8a33d",
    "requires_manual": "#8e6bbf",
    "excluded": "#52606d",
}
CATEGORY_COLORS = dict(
    zip(
        CATEGORIES,
        ("#8e6bbf", "#3b82c4", "#d64545", "#e8a33d", "#c2410c", "#52606d", "#9aa5b1"),
        strict=True,
    )
)
STATE_CLASS = {"open": "bad", "half-open": "warn", "closed": "good"}

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2933;
background:#f5f7fa}
header{background:#1f2933;color:#f5f7fa;padding:16px 28px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cbd2d9;font-size:13px}
main{max-width:1360px;margin:0 auto;padding:18px 28px 40px}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 14px;font-weight:600}
.banner.bad{background:#fde8e8;color:#9b1c1c;border:1px solid #f8b4b4}
.banner.good{background:#e3f9e5;color:#1d6b3a;border:1px solid #a8e0b5}
.banner.warn{background:#fff5e0;color:#8a5300;border:1px solid #f7d394}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:10px;
margin-bottom:16px}
.card{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:10px 12px}
.card .k{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:24px;font-weight:650}
.card .s{font-size:12px;color:#616e7c}
.card.bad .v{color:#c81e1e}.card.good .v{color:#1d6b3a}.card.warn .v{color:#b45309}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(620px,1fr));gap:14px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:12px 16px;
overflow-x:auto}
section h2{font-size:16px;margin:0 0 4px}
section .lead{color:#616e7c;font-size:12.5px;margin:0 0 8px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #eef1f4;text-align:left;vertical-align:top}
th{color:#52606d;font-weight:600;background:#f8fafc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.pill.bad{background:#fde8e8;color:#9b1c1c}.pill.good{background:#e3f9e5;color:#1d6b3a}
.pill.warn{background:#fff5e0;color:#8a5300}.pill.none{background:#eef1f4;color:#52606d}
.empty{color:#9aa5b1;font-style:italic}
.funnel td.bar{min-width:120px}
.funnel .track{position:relative;height:18px;background:#eef1f4;border-radius:3px}
.funnel .fill{position:absolute;left:0;top:0;bottom:0;border-radius:3px}
.funnel .lbl{position:relative;padding-left:6px;font-size:12px;line-height:18px;
font-variant-numeric:tabular-nums}
svg{max-width:100%;height:auto;display:block}
footer{color:#9aa5b1;font-size:12px;margin-top:18px}
"""


def _m(metric: str, value: float | int | None, text: str | None = None, tag: str = "span") -> str:
    shown = number(value) if text is None else text
    return f"<{tag}{metric_attrs(metric, value)}>{esc(shown)}</{tag}>"


def _card(key: str, metric: str, value: int | float | None, sub: str = "", cls: str = "") -> str:
    return (
        f'<div class="card {cls}"><div class="k">{esc(key)}</div>'
        f'<div class="v">{_m(metric, value)}</div>'
        + (f'<div class="s">{sub}</div>' if sub else "")
        + "</div>"
    )


def _section(title: str, lead: str, body: str, anchor: str) -> str:
    return (
        f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>'
        + (f'<p class="lead">{lead}</p>' if lead else "")
        + body
        + "</section>"
    )


def _pill(text: str, cls: str, metric: str | None = None) -> str:
    attrs = f' data-metric="{esc(metric)}" data-value="{esc(text)}"' if metric else ""
    return f'<span class="pill {esc(cls)}"{attrs}>{esc(text)}</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    head = "".join(
        f'<th class="n">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# --- sections -------------------------------------------------------------------------------


def _health(d: DashboardData) -> str:
    q, runs, c = d.queue, d.runs, d.control
    parts = []
    if not c.enabled:
        who = f" by {esc(c.disabled_by)}" if c.disabled_by else ""
        when = f" at {esc(c.disabled_at)}" if c.disabled_at else ""
        parts.append(
            f'<div class="banner bad" data-metric="control.emergency_stop" data-value="true">'
            f"EMERGENCY STOP{who}{when}: {esc(c.reason or 'no reason recorded')}</div>"
        )
    else:
        parts.append(
            '<div class="banner good" data-metric="control.emergency_stop" data-value="false">'
            "Emergency stop: off (batch-control.json enabled)</div>"
        )
    if c.disabled_ecosystems:
        parts.append(
            '<div class="banner warn">Disabled ecosystems: '
            + esc(", ".join(c.disabled_ecosystems))
            + "</div>"
        )
    alerts = d.sli.alerts
    if alerts:
        items = "".join(f"<li>{esc(a.alert_text())}</li>" for a in alerts)
        parts.append(
            f'<div class="banner bad">{_m("sli.alert_count", len(alerts))} SLI alert(s)'
            f'<ul style="margin:4px 0 0;font-weight:400">{items}</ul></div>'
        )
    open_count = len(c.open_breakers)
    cards = [
        _card("Queue entries", "queue.total", q.total, f"updated {esc(q.updated_at or '—')}"),
        _card("Pending", "queue.by_status.pending", q.by_status.get("pending", 0)),
        _card("Success", "queue.by_status.success", q.by_status.get("success", 0), cls="good"),
        _card(
            "Blocked",
            "queue.by_status.blocked",
            q.by_status.get("blocked", 0),
            cls="warn" if q.by_status.get("blocked") else "",
        ),
        _card("Recipes on disk", "recipes", d.recipes),
        _card(
            "Batch runs",
            "runs.records",
            runs.records,
            f"{_m('runs.empty', runs.empty)} empty · {_m('runs.non_empty', runs.non_empty)} "
            "with work",
        ),
        _card("Recipes merged (runs)", "runs.merged", runs.merged, "sum of metrics merged"),
        _card(
            "Runs since last merge",
            "runs.runs_since_last_success",
            runs.runs_since_last_success,
            "last merge "
            + _m("runs.last_successful_run", None, runs.last_successful_run or "never"),
            cls="bad" if runs.runs_since_last_success > 24 else "",
        ),
        _card(
            "Open breakers",
            "control.open_breaker_count",
            open_count,
            f"of {len(c.breakers)} recorded",
            cls="bad" if open_count else "good",
        ),
        _card(
            "Failure records",
            "failures.records",
            d.failures.records,
            f"{number(d.failures.distinct_packages)} packages",
        ),
    ]
    last_run = runs.last_run or "never"
    parts.append('<div class="cards">' + "".join(cards) + "</div>")
    parts.append(
        f'<p class="lead">Last run {_m("runs.last_run", None, last_run)} · first run '
        f"{esc(runs.first_run or '—')} · {number(runs.legacy)} legacy single-ecosystem records"
        "</p>"
    )
    return "".join(parts)


def _sli_section(d: DashboardData) -> str:
    s = d.sli
    rows = []
    for item in s.indicators:
        cls = {"ok": "good", "alert": "bad", "no_data": "none"}[item.status]
        bound = ("≥ " if item.direction == "min" else "≤ ") + item.formatted(item.threshold)
        counts = ""
        if item.numerator is not None and item.denominator is not None:
            counts = f"{number(item.numerator)} / {number(item.denominator)}"
        rows.append(
            [
                esc(item.title),
                _m(f"sli.{item.key}", item.value, item.formatted()),
                esc(bound),
                esc(counts),
                _pill(item.status.replace("_", " "), cls, f"sli.status.{item.key}"),
                esc(item.detail),
            ]
        )
    lead = (
        f"Window {esc(s.window)} ending {esc(s.now)} (from {esc(s.window_start)}). "
        "Thresholds from automation.toml [sli] or defaults; <code>invoke sli</code> exits 4 on "
        "any alert. Indicators without data in the window do not alert."
    )
    table = _table(["indicator", "value", "threshold", "counts", "status", "detail"], rows, {1, 3})
    return _section("Service-level indicators", lead, table, "sli")


def _control_section(d: DashboardData) -> str:
    rows = []
    for b in d.control.breakers:
        rows.append(
            [
                esc(b.ecosystem),
                _pill(b.state, STATE_CLASS.get(b.state, "none"), f"control.breaker.{b.ecosystem}"),
                _pill(b.effective_state, STATE_CLASS.get(b.effective_state, "none")),
                _m(f"control.breaker_failures.{b.ecosystem}", b.failures),
                esc(b.last_failure or "—"),
                esc(b.opens_at or "—"),
            ]
        )
    body = (
        _table(
            [
                "ecosystem",
                "state (recorded)",
                f"state at {d.generated_at}",
                "failures",
                "last failure",
                "opens at",
            ],
            rows,
            {3},
        )
        if rows
        else '<p class="empty">no circuit breaker recorded (all closed)</p>'
    )
    lead = (
        "Circuit breakers from batch-control.json. An open breaker whose cooldown has passed is "
        "half-open: the next batch probes it."
    )
    return _section("Breakers", lead, body, "breakers")


def _budget_section(d: DashboardData) -> str:
    if d.budget is None:
        return ""
    rows = []
    for row in d.budget.rows:
        share = row.used / row.limit * 100 if row.limit else 0.0
        per_env = ", ".join(f"{env} {minutes}" for env, minutes in row.environments.items())
        rows.append(
            [
                esc(row.runner),
                _m(f"budget.{row.runner}.used", row.used),
                _m(f"budget.{row.runner}.limit", row.limit),
                _m(f"budget.{row.runner}.remaining", row.remaining),
                esc(f"{share:.0f}%"),
                esc(per_env or "—"),
            ]
        )
    lead = (
        f"Hosted runner minutes in the week of {esc(d.budget.week_start)} (Monday, UTC), from "
        "the jobs' ledger (data/metrics/runner-minutes/) against the limits in batch-control.json. "
        "A job that would overrun is deferred before it starts; a macOS job validates the top "
        f"{d.budget.sample_size} recipes of a batch by priority, the rest wait for the nightly run."
    )
    table = _table(
        ["runner", "used", "limit", "left", "share", "by environment"], rows, {1, 2, 3, 4}
    )
    return _section("Runner minutes this week", lead, table, "budget")


def _funnel_cell(value: int | None, seeded: int, color: str, metric: str) -> str:
    if value is None:
        return '<td class="bar"><span class="empty">no results</span></td>'
    pct = value / seeded * 100 if seeded else 0
    return (
        f'<td class="bar"><div class="track" title="{pct:.1f}% of seeded">'
        f'<div class="fill" style="width:{pct:.2f}%;background:{color}"></div>'
        f'<div class="lbl">{_m(metric, value)} <span style="color:#616e7c">'
        f"({pct:.0f}%)</span></div></div></td>"
    )


def _funnel_section(d: DashboardData) -> str:
    envs = d.environments
    heads = ["ecosystem", "seeded", "generated"]
    heads += [f"validated {e}" for e in envs] or ["validated"]
    heads += ["merged", "pending / blocked / failed / excluded"]
    rows = []

    def row(r: FunnelRow) -> str:
        eco = r.ecosystem
        cells = [
            f"<td>{esc(eco)}</td>",
            _funnel_cell(r.seeded, r.seeded, "#cbd2d9", f"funnel.{eco}.seeded"),
            _funnel_cell(r.generated, r.seeded, "#9fc1e8", f"funnel.{eco}.generated"),
        ]
        if envs:
            cells += [
                _funnel_cell(r.validated[e], r.seeded, "#7fb3a0", f"funnel.{eco}.validated.{e}")
                for e in envs
            ]
        else:
            cells.append(_funnel_cell(None, r.seeded, "", ""))
        cells.append(_funnel_cell(r.merged, r.seeded, "#6cc08b", f"funnel.{eco}.merged"))
        rest = " / ".join(
            number(r.statuses.get(s, 0)) for s in ("pending", "blocked", "failed", "excluded")
        )
        cells.append(f'<td class="n">{esc(rest)}</td>')
        return "<tr>" + "".join(cells) + "</tr>"

    rows = [row(r) for r in d.funnel]
    if not rows:
        return _section(
            "Funnel per ecosystem", "", '<p class="empty">the queue is empty</p>', "funnel"
        )
    head = "".join(f"<th>{esc(h)}</th>" for h in heads)
    table = (
        f'<table class="funnel"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )
    lead = (
        "Bars are shares of the ecosystem's seeded entries. <b>generated</b>: status success, a "
        "validation result, or an install/verify failure (those follow generation); "
        "<b>validated</b>: latest result per environment is pass (data/results"
        + ("" if envs else "; <i>none in this registry</i> — see validation by platform below")
        + "); <b>merged</b>: status success."
    )
    return _section("Funnel per ecosystem", lead, table, "funnel")


def _queue_section(d: DashboardData) -> str:
    q = d.queue
    status_bars = [
        Bar(s, n, f"queue.by_status.{s}", STATUS_COLORS.get(s, GREY))
        for s, n in q.by_status.items()
    ]
    tiers = [
        Stack(f"priority {t}", tuple(s.items()), f"queue.by_tier.{t}") for t, s in q.by_tier.items()
    ]
    body = (
        "<h3 style='font-size:13px;margin:6px 0'>By status</h3>"
        + hbar_chart(status_bars, "queue entries by status", empty="the queue is empty")
        + "<h3 style='font-size:13px;margin:10px 0 6px'>By priority tier</h3>"
        + stacked_hbar(tiers, STATUS_COLORS, "queue entries by priority tier and status")
        + '<p class="lead">Confidence: '
        + esc(", ".join(f"{k} {number(v)}" for k, v in q.by_confidence.items()) or "—")
        + "</p>"
    )
    return _section("Queue", "data/queues/priority-queue.json", body, "queue")


def _short(date: str) -> str:
    return date[5:] if len(date) == 10 else date


def _trend_section(d: DashboardData) -> str:
    days = d.runs.days
    labels = [_short(p.date) for p in days]
    rates = line_chart(
        labels,
        [
            Series("merge rate (merged / attempted)", tuple(p.merge_rate for p in days), "#2f9e5b"),
            Series("generation success", tuple(p.generation_rate for p in days), "#3b6fb6"),
        ],
        "success rates per day",
    )
    runs = column_chart(
        labels,
        [
            Series("runs with work", tuple(float(p.runs - p.empty_runs) for p in days), "#3b6fb6"),
            Series("empty runs", tuple(float(p.empty_runs) for p in days), "#cbd2d9"),
        ],
        "runs per day",
    )
    merged = column_chart(
        labels,
        [Series("recipes merged", tuple(float(p.merged) for p in days), "#2f9e5b")],
        "recipes merged per day",
    )
    lead = (
        f"From {number(d.runs.records)} metrics records over {number(len(days))} days "
        f"({number(d.runs.empty)} empty runs shown as grey columns). A day without runs that "
        "attempted something has no rate (gap, not zero). Generation success exists only in "
        "this kit's records; the reference records cannot compute it."
    )
    body = (
        "<h3 style='font-size:13px;margin:6px 0'>Success rates per day</h3>"
        + rates
        + "<h3 style='font-size:13px;margin:10px 0 6px'>Runs per day</h3>"
        + runs
        + "<h3 style='font-size:13px;margin:10px 0 6px'>Recipes merged per day</h3>"
        + merged
    )
    return _section("Success over time", lead, body, "trend")


def _platform_section(d: DashboardData) -> str:
    bars = [
        Bar(
            p.bucket,
            round((p.pass_rate or 0) * 100, 1),
            None,
            "#7fb3a0",
            f"% · {number(p.passed)} of {number(p.passed + p.failed)}",
        )
        for p in d.runs.platforms
        if p.passed + p.failed
    ]
    rows = [
        [
            esc(p.bucket),
            _m(f"runs.platforms.{p.bucket}.tested", p.tested),
            _m(f"runs.platforms.{p.bucket}.passed", p.passed),
            _m(f"runs.platforms.{p.bucket}.failed", p.failed),
            esc(number(p.pass_rate, percent=True)),
        ]
        for p in d.runs.platforms
    ]
    body = hbar_chart(bars, "validation pass rate by platform (%)", empty="no validation recorded")
    body += (
        _table(["platform bucket", "tested", "passed", "failed", "pass rate"], rows, {1, 2, 3, 4})
        if rows
        else ""
    )
    lead = "All metrics records; reference buckets are job names (linux-x86_64 counts 5 families)."
    return _section("Validation by platform", lead, body, "platforms")


def _failures_section(d: DashboardData) -> str:
    f = d.failures
    cats = [
        Bar(c, n, f"failures.by_category.{c}", CATEGORY_COLORS.get(c, GREY))
        for c, n in f.by_category.items()
    ]
    subs_items = list(f.by_subcategory.items())
    subs = [Bar(s, n, f"failures.by_subcategory.{s}", "#52606d") for s, n in subs_items[:15]]
    envs = [
        Stack(e, tuple(c.items()), f"failures.by_environment.{e}")
        for e, c in list(f.by_environment.items())[:15]
    ]
    raw = ", ".join(f"{k} {number(v)}" for k, v in f.by_raw_category.items())
    lead = (
        f"{_m('failures.records', f.records)} records in data/failures (all history), "
        f"{number(f.distinct_packages)} distinct packages. Categories are canonical; as written: "
        f"{esc(raw or '—')}."
    )
    more_subs = len(subs_items) - len(subs)
    body = (
        "<h3 style='font-size:13px;margin:6px 0'>By category</h3>"
        + hbar_chart(cats, "failures by category", empty="no failure records")
        + "<h3 style='font-size:13px;margin:10px 0 6px'>By subcategory</h3>"
        + hbar_chart(subs, "failures by subcategory", empty="no failure records")
        + (
            f'<p class="lead">… {more_subs} more subcategories in dashboard.json</p>'
            if more_subs > 0
            else ""
        )
        + "<h3 style='font-size:13px;margin:10px 0 6px'>By environment</h3>"
        + stacked_hbar(envs, CATEGORY_COLORS, "failures by environment and category")
    )
    return _section("Failures", lead, body, "failures")


def _blockers_section(d: DashboardData) -> str:
    b = d.blockers
    bars = [
        Bar(
            x.key,
            len(x.transitive),
            f"blockers.{x.key}.transitive_count",
            "#e8a33d",
            f"weight {x.weighted:.1f}",
        )
        for x in b.top
    ]
    rows = [
        [
            esc(x.key),
            _m(f"blockers.{x.key}.direct_count", len(x.direct)),
            esc(number(len(x.transitive))),
            esc(f"{x.weighted:.1f}"),
            esc(", ".join(x.top)),
        ]
        for x in b.top
    ]
    lead = (
        f"{_m('blockers.missing_dependencies', b.missing_dependencies)} missing dependencies hold "
        f"back {_m('blockers.blocked_packages', b.blocked_packages)} queue entries (bars: distinct "
        f"packages blocked, transitively; weights: {esc(b.weights)}). "
        f"{number(len(b.satisfied))} recorded blockers already have a recipe (requeue candidates;"
        " <code>invoke requeue</code>)."
    )
    body = hbar_chart(bars, "top blockers", empty="no missing dependency recorded")
    if rows:
        body += _table(
            ["dependency", "direct", "transitive", "weight", "top blocked"], rows, {1, 2, 3}
        )
    return _section("Top blockers", lead, body, "blockers")


def _runs_section(d: DashboardData) -> str:
    rows = [
        [
            esc(r.batch_id),
            esc(r.timestamp),
            esc(", ".join(r.ecosystems)),
            esc(number(r.total)),
            esc(number(r.merged)),
            esc(number(r.merged / r.total if r.total else None, percent=True)),
            esc(number(r.duration_seconds)),
        ]
        for r in d.runs.recent
    ]
    table = (
        _table(
            ["batch", "time", "ecosystems", "attempted", "merged", "rate", "seconds"],
            rows,
            {3, 4, 5, 6},
        )
        if rows
        else '<p class="empty">no run attempted anything</p>'
    )
    lead = "The last runs that attempted something, newest first (metrics records)."
    return _section("Recent runs", lead, table, "runs")


def _batches_section(d: DashboardData) -> str:
    rows = [
        [
            esc(b.batch_id),
            _pill(b.status, {"merged": "good", "rolled_back": "warn"}.get(b.status, "none")),
            esc(", ".join(b.ecosystems)),
            esc(b.created_at),
            esc(number(b.recipes_created)),
            esc(number(b.recipes_modified)),
            esc(number(b.files)),
            esc(", ".join(f"{k} {v}" for k, v in b.transitions.items() if v) or "—"),
        ]
        for b in d.batches
    ]
    table = (
        _table(
            [
                "batch",
                "status",
                "ecosystems",
                "created",
                "recipes new",
                "recipes changed",
                "files",
                "queue after",
            ],
            rows,
            {4, 5, 6},
        )
        if rows
        else '<p class="empty">no batch manifests (data/batches) in this registry</p>'
    )
    lead = f"{_m('batches.total', d.batches_total)} batch manifests; the newest 10."
    return _section("Recent batches", lead, table, "batches")


def _problems_section(d: DashboardData) -> str:
    rows = [
        [esc(kind)] + [esc(number(counts.get(s, 0))) for s in ("error", "warning", "normalised")]
        for kind, counts in d.problems.items()
        if any(counts.values())
    ]
    if not rows:
        return ""
    lead = "Data the dashboard read with problems (details: <code>invoke check-data</code>)."
    return _section(
        "Data problems",
        lead,
        _table(["files", "errors", "warnings", "normalised"], rows, {1, 2, 3}),
        "problems",
    )


def render_html(d: DashboardData) -> str:
    """The whole page as one string."""
    top = (
        '<div class="grid">' + _sli_section(d) + _control_section(d) + _budget_section(d) + "</div>"
    )
    funnel = f'<div style="margin:14px 0">{_funnel_section(d)}</div>'
    rest = [
        _queue_section(d),
        _failures_section(d),
        _trend_section(d),
        _platform_section(d),
        _blockers_section(d),
        _runs_section(d),
        _batches_section(d),
        _problems_section(d),
    ]
    out = [top, funnel, '<div class="grid">' + "".join(rest) + "</div>"]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Registry pipeline dashboard</title><style>{CSS}</style></head><body>"
        "<header><h1>Registry pipeline dashboard</h1>"
        f"<p>{esc(d.root)} · generated {_m('generated_at', None, d.generated_at)} · numbers also "
        'in <a style="color:#9fc1e8" href="dashboard.json">dashboard.json</a></p></header>'
        f"<main>{_health(d)}{''.join(out)}"
        "<footer>Static page: inline SVG, no scripts, no network. Built by "
        "<code>invoke dashboard</code>.</footer></main></body></html>\n"
    )
