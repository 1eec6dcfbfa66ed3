"""The self-contained HTML report: inline CSS and inline SVG, no script and no external resource."""

from __future__ import annotations

from collections.abc import Sequence

from promptsearch.reports._data import GroupStats, ReportData
from promptsearch.reports._examples import OutputExample
from promptsearch.reports._lineage import Lineage
from promptsearch.reports._records import LeaderboardRow, selection_sentence
from promptsearch.reports._svg import bar_chart, box_chart, color, esc, history_chart, scatter_chart

__all__ = ["page", "render_html", "table"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:16px 24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.prompt{white-space:pre-wrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
margin:0;max-width:520px;overflow-wrap:anywhere}
.muted{color:#57606a}.msg{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;display:inline-block}
.badge{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px}
svg.chart{max-width:100%;height:auto;display:block;margin:4px 0 12px}
svg .axis{stroke:#57606a}svg .grid{stroke:#eaeef2}svg .tick{font-size:11px;fill:#57606a}
svg .label{font-size:12px;fill:#1b1f24}svg .empty{font-size:13px;fill:#57606a}
svg .best{fill:none;stroke:#d62728;stroke-width:2}svg .dot{fill:#1f77b4;fill-opacity:.75}
svg .dot.pruned{fill:#fff;stroke:#7f7f7f;stroke-width:1.2}svg .whisker{stroke:#57606a}
svg .median{stroke-width:2.5}
ul.lineage{list-style:none;padding-left:18px;border-left:2px solid #d0d7de;margin:4px 0}
ul.lineage>li{margin:6px 0}
nav a{margin-right:12px}
"""


def page(title: str, body: Sequence[str]) -> str:
    """A complete HTML document with the report stylesheet inlined."""
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{esc(title)}</title>",
                f"<style>{CSS}</style>",
                "</head>",
                "<body>",
                *body,
                "</body>",
                "</html>",
            ]
        )
        + "\n"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, table_id: str = "") -> str:
    """An HTML table; ``rows`` hold cells already rendered as HTML (``<td>`` included)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    ident = f' id="{esc(table_id)}"' if table_id else ""
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table{ident}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return '<td class="num">–</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.{digits}f}</td>'
    return f'<td class="num">{value}</td>'


def _text(value: object) -> str:
    return f"<td>{esc(value)}</td>"


def prompt_html(instruction: str, template: str) -> str:
    """Instruction and template as preformatted text (escaped)."""
    text = f"{instruction}\n{template}" if instruction else template
    return f'<pre class="prompt">{esc(text)}</pre>'


def _badge(origin: str) -> str:
    return f'<span class="badge" style="background:{color(origin)}">{esc(origin)}</span>'


def _gain(r: LeaderboardRow) -> str:
    if r.gain is None:
        return '<td class="num">–</td>'
    low = "?" if r.gain_low is None else f"{r.gain_low:+.3f}"
    high = "?" if r.gain_high is None else f"{r.gain_high:+.3f}"
    p = "" if r.gain_p is None else f" p={r.gain_p:.2f}"
    return f'<td class="num">{r.gain:+.3f} [{low}, {high}]{p}</td>'


def _with_interval(r: LeaderboardRow, metric: str) -> str:
    """A test metric's cell, with its 95% interval when the row has one."""
    value, interval = r.test_metrics.get(metric), r.test_intervals.get(metric)
    if value is None or interval is None:
        return _num(value)
    return f'<td class="num">{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]</td>'


def _leaderboard(rows: Sequence[LeaderboardRow], metric: str) -> str:
    others = sorted({m for r in rows for m in r.test_metrics if m != metric})
    label_words = any(r.verbalizer for r in rows)  # no label words: generation, multiple choice
    gains = any(r.gain is not None for r in rows)
    headers = [
        "rank",
        "prompt (instruction + template)",
        *(["verbalizer"] if label_words else []),
        "demonstrations",
        "tuning",
        *(["calibrated"] if label_words else []),
        f"dev {metric}",
        f"test {metric} [95% CI]",
        *(f"test {m} [95% CI]" for m in others),
        *(["gain vs baseline [CI]"] if gains else []),
        "cost (forward passes)",
        "origin",
        "generation",
        "trial",
    ]
    body = []
    for r in rows:
        score = r.test_score
        if score is None:
            test = '<td class="num">–</td>'
        elif r.test_ci_low is None or r.test_ci_high is None:
            test = f'<td class="num">{score:.3f}</td>'
        else:
            test = f'<td class="num">{score:.3f} [{r.test_ci_low:.3f}, {r.test_ci_high:.3f}]</td>'
        demos = f"{r.n_demos} ({r.demo_selection})" if r.n_demos else "0"
        body.append(
            [
                _num(r.rank),
                f"<td>{prompt_html(r.instruction, r.template)}</td>",
                *([_text(r.verbalizer or "–")] if label_words else []),
                _text(demos),
                _text(r.tuning),
                *([_text("yes" if r.calibrate else "no")] if label_words else []),
                _num(r.dev_score),
                test,
                *(_with_interval(r, m) for m in others),
                *([_gain(r)] if gains else []),
                _num(r.evaluations),
                f"<td>{_badge(r.origin)}</td>",
                _num(r.generation),
                _num(r.trial),
            ]
        )
    return table(headers, body, table_id="leaderboard-table")


def _lineage_item(lineage: Lineage, cid: str, seen: set[str], depth: int) -> str:
    node = lineage.node(cid)
    if node is None:
        return ""
    score = "not scored" if node.best_value is None else f"best {node.best_value:.3f}"
    gen = "?" if node.generation < 0 else str(node.generation)
    head = (
        f'{_badge(node.origin)} <code>{esc(node.id)}</code> <span class="muted">generation {esc(gen)}, '
        f"{esc(score)}</span>"
    )
    if node.detail:
        head += f" — <em>{esc(node.detail)}</em>"
    if cid in seen:  # crossover can share ancestors: show each subtree once
        return f'<li data-id="{esc(cid)}">{head} <span class="muted">(ancestry shown above)</span></li>'
    seen.add(cid)
    body = prompt_html(node.instruction, node.template) if node.template else ""
    kids = "".join(_lineage_item(lineage, p, seen, depth + 1) for p in node.parents) if depth < 64 else ""
    sub = f'<ul class="lineage">{kids}</ul>' if kids else ""
    return f'<li data-id="{esc(cid)}">{head}{body}{sub}</li>'


def _lineage(lineage: Lineage) -> str:
    if not lineage.nodes:
        return '<p class="msg">No winner, so no lineage.</p>'
    parts = [
        '<p class="muted">The winner first; each candidate lists the candidates it was derived from, '
        "down to seed templates and grammar samples.</p>",
        f'<ul class="lineage" id="lineage-tree">{_lineage_item(lineage, lineage.root, set(), 0)}</ul>',
    ]
    if lineage.missing:
        parts.append(
            f'<p class="msg">Ancestors missing from the stored pools: {esc(", ".join(lineage.missing))}</p>'
        )
    return "\n".join(parts)


def _classes(data: ReportData) -> str:
    c = data.classes
    if not c.available:
        return '<p class="msg">The winner has no test confusion matrix (no test set was evaluated).</p>'
    peak = max((v for row in c.confusion for v in row), default=0) or 1
    headers = ["true \\ predicted", *c.labels]
    rows = []
    for label, counts in zip(c.labels, c.confusion, strict=False):
        cells = [f"<th>{esc(label)}</th>"]
        for v in counts:
            alpha = 0.08 + 0.75 * v / peak
            ink = "#fff" if alpha > 0.55 else "#1b1f24"
            cells.append(
                f'<td class="num" style="background:rgba(31,119,180,{alpha:.2f});color:{ink}">{v}</td>'
            )
        rows.append(cells)
    parts = [table(headers, rows, table_id="confusion-table")]
    per = [
        [
            _text(label),
            _num(s.get("precision")),
            _num(s.get("recall")),
            _num(s.get("f1")),
            _num(int(s.get("support", 0))),
        ]
        for label, s in c.per_class.items()
    ]
    parts += [
        '<h3 id="per-class">Per-class scores</h3>',
        table(["label", "precision", "recall", "F1", "support"], per, table_id="per-class-table"),
    ]
    return "\n".join(parts)


def _outputs(examples: Sequence[OutputExample], metric: str) -> str:
    """The winner's outputs on the first dev examples, each with the metric on it alone."""
    if not examples:
        return '<p class="msg" id="outputs-message">The leaderboard holds no outputs of the winner.</p>'
    rows = [
        [
            _num(i),
            f'<td><pre class="prompt">{esc(e.input_text)}</pre></td>',
            f'<td><pre class="prompt">{esc(e.output)}</pre></td>',
            "<td>" + "".join(f'<pre class="prompt">{esc(ref)}</pre>' for ref in e.references) + "</td>",
            _num(e.score),
        ]
        for i, e in enumerate(examples, start=1)
    ]
    note = (
        f'<p class="muted">The winner\'s outputs on the first {len(examples)} dev examples, as generated '
        f"during the search; {esc(metric)} is computed on each example alone.</p>"
    )
    return note + table(["#", "input", "output", "references", metric], rows, table_id="outputs-table")


def _stats_table(groups: Sequence[GroupStats], table_id: str) -> str:
    rows = [
        [
            _text(g.name),
            _num(g.n),
            _num(g.mean),
            _num(g.std),
            _num(g.median),
            _num(g.minimum),
            _num(g.maximum),
        ]
        for g in groups
    ]
    return table(["group", "n", "mean", "std", "median", "min", "max"], rows, table_id=table_id)


def render_html(data: ReportData) -> str:
    """Render the report as one self-contained HTML document.

    Args:
        data: The record from :func:`build_report_data`.

    Returns:
        HTML text with inline CSS and SVG; it loads nothing and runs no script.

    Example:
        >>> html = render_html(build_report_data(study, board))  # doctest: +SKIP
        >>> Path("report.html").write_text(html)  # doctest: +SKIP
    """
    b = data.leaderboard
    title = f"Prompt search report: {b.task} / {b.model} / seed {b.seed}"
    # What the winner's answers look like: outputs for generation, a confusion matrix for classes.
    if data.task_type == "generation" or data.outputs:
        answers = ("outputs", "Winner's outputs", _outputs(data.outputs, b.metric))
    elif data.task_type in ("classification", ""):
        answers = ("confusion", "Winner confusion matrix", _classes(data))
    else:
        answers = None  # multiple choice: every example has its own choices, no classes
    sections = [
        ("leaderboard", "Leaderboard"),
        ("history", "Optimization history"),
        ("distribution", "Scores by operator and generation"),
        ("lineage", "Winner lineage"),
        ("importances", "Hyperparameter importances"),
        *([answers[:2]] if answers else []),
        ("length", "Score vs prompt length"),
    ]
    imp = data.importances
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p id="summary" class="muted">Study <code>{esc(b.study_name)}</code>: {b.n_trials} trials '
        f"({b.n_pruned} pruned), {b.forward_passes} example forward passes, {b.cache_hits} cache hits, "
        f"{b.seconds:.0f} s. {esc(selection_sentence(b))} The test {esc(b.metric)} is shown with a 95% "
        "bootstrap interval and was never used for selection.</p>",
        "<nav>" + "".join(f'<a href="#{sid}">{esc(name)}</a>' for sid, name in sections) + "</nav>",
        f'<section id="leaderboard"><h2>{sections[0][1]}</h2>{_leaderboard(data.rows, b.metric)}</section>',
        f'<section id="history"><h2>{sections[1][1]}</h2><p class="muted">Filled dots: completed trials; '
        "hollow: pruned (their value is a partial mean); line: best so far.</p>"
        f"{history_chart(data.history)}</section>",
        f'<section id="distribution"><h2>{sections[2][1]}</h2>'
        '<h3 id="by-operator">By operator</h3>'
        + box_chart(
            data.by_operator, chart_id="operator-chart", label="Objective by operator", axis="operator"
        )
        + _stats_table(data.by_operator, "operator-table")
        + '<h3 id="by-generation">By generation</h3>'
        + box_chart(
            data.by_generation,
            chart_id="generation-chart",
            label="Objective by generation",
            axis="generation",
        )
        + _stats_table(data.by_generation, "generation-table")
        + "</section>",
        f'<section id="lineage"><h2>{sections[3][1]}</h2>{_lineage(data.lineage)}</section>',
        f'<section id="importances"><h2>{sections[4][1]}</h2>'
        + (
            bar_chart(imp.values, chart_id="importances-chart", label="fANOVA importance by parameter")
            if imp.values
            else f'<p class="msg" id="importances-message">{esc(imp.message)}</p>'
        )
        + "</section>",
        *(
            [f'<section id="{answers[0]}"><h2>{esc(answers[1])}</h2>{answers[2]}</section>']
            if answers
            else []
        ),
        f'<section id="length"><h2>Score vs prompt length</h2>{scatter_chart(data.lengths)}</section>',
    ]
    return page(title, body)
