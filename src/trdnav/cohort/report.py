"""The summary report of a cohort run: one self-contained HTML page with SVG charts.

Counts, Thase-Rush and Maudsley distributions, the commonest treatment sequences, time to
TRD, remission by line of treatment, remission at 12 months, treatments received, and every
data-check finding. Computed with Arrow from the per-person results.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from trdnav.cohort.definition import LINES_SHOWN, TREATMENTS
from trdnav.cohort.runner import CohortRun

__all__ = ["summary", "to_html"]

_NOTICE = (
    "trdnav is not a medical device. These figures describe data; they are not clinical "
    "advice about any person."
)


def _count(table: pa.Table, mask: Any) -> int:
    return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)


def _counts(column: pa.ChunkedArray) -> dict[Any, int]:
    return {row["values"]: row["counts"] for row in pc.value_counts(column).to_pylist()}


def _band_order(run: CohortRun) -> Any:
    """Maudsley bands in the knowledge base's order (mild first), then any other label,
    then persons whose severity is not coded (no band)."""
    labels = [step.label for step in run.params.msm.bands] if run.params else []
    return lambda band: (
        band is None,
        labels.index(band) if band in labels else len(labels),
        str(band),
    )


def summary(run: CohortRun) -> dict[str, Any]:
    """The report's figures as plain data (also written next to the HTML as JSON)."""
    p = run.persons
    n = p.num_rows
    depressed = pc.greater(p["episodes"], 0)
    trd = p["trd"]
    with_episode = p.filter(depressed)
    stages = _counts(with_episode["thase_rush"])
    bands = _counts(with_episode["msm_band"])
    lines = [pc.fill_null(p[f"line_{k}"], "") for k in range(1, LINES_SHOWN + 1)]
    joined = pc.binary_join_element_wise(*lines, " > ")
    joined = pc.utf8_rtrim(joined, characters=" >")
    sequences = _counts(joined.filter(pc.not_equal(joined, "")))
    top = sorted(sequences.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
    days = p.filter(trd)["days_to_trd"].to_pylist()
    known = sorted(d for d in days if d is not None)
    bins: dict[str, int] = {}
    for lo in range(0, 1080, 90):
        label = f"{lo}-{lo + 89}"
        bins[label] = sum(1 for d in days if d is not None and lo <= d < lo + 90)
    bins["1080+"] = sum(1 for d in days if d is not None and d >= 1080)
    by_line = []
    for k in range(1, LINES_SHOWN + 1):
        reached = _count(p, pc.greater_equal(p["lines"], k))
        remitted = _count(p, pc.equal(p["remission_line"], k))
        by_line.append({"line": k, "reached": reached, "remitted": remitted})
    r12 = _counts(p["remission_12m"])
    received = {t: _count(p, pc.is_valid(p[f"{t.lower()}_first_date"])) for t in TREATMENTS}
    return {
        "engine": run.engine,
        "as_of": run.as_of.isoformat(),
        "persons": n,
        "with_episode": _count(p, depressed),
        "trd": _count(p, trd),
        "thase_rush": {str(k): v for k, v in sorted(stages.items(), key=lambda kv: kv[0])},
        "msm_band": {str(k): bands[k] for k in sorted(bands, key=_band_order(run))},
        "sequences": [{"sequence": s, "persons": c} for s, c in top],
        "days_to_trd": bins,
        "median_days_to_trd": known[len(known) // 2] if known else None,
        "remission_by_line": by_line,
        "remission_12m": {
            "yes": r12.get(True, 0),
            "no": r12.get(False, 0),
            "unknown": _count(p, pc.and_(depressed, pc.is_null(p["remission_12m"]))),
        },
        "received": received,
        "findings": [f.to_dict() for f in run.findings],
    }


def _bars(data: Sequence[tuple[str, float]], *, unit: str = "", width: int = 520) -> str:
    if not data:
        return "<p>None.</p>"
    top = max(v for _, v in data) or 1
    row = 22
    parts = [
        f'<svg role="img" width="{width + 260}" height="{row * len(data) + 4}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, value) in enumerate(data):
        y = i * row
        w = int(width * value / top)
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{html.escape(label)}</text>'
            f'<rect x="200" y="{y + 3}" width="{w}" height="16" fill="#4a78a8"></rect>'
            f'<text x="{206 + w}" y="{y + 15}" font-size="12">{value:g}{unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def to_html(run: CohortRun, figures: dict[str, Any] | None = None) -> str:
    s = figures or summary(run)
    n, dep, trd = s["persons"], s["with_episode"], s["trd"]
    remission_rows = "".join(
        f"<tr><td>{r['line']}</td><td>{r['reached']:,}</td><td>{r['remitted']:,}</td>"
        f"<td>{_pct(r['remitted'], r['reached'])}</td></tr>"
        for r in s["remission_by_line"]
    )
    finding_rows = (
        "".join(
            f"<tr><td>{html.escape(f['check'])}</td><td>{html.escape(f['table'])}</td>"
            f"<td>{f['count']:,}</td><td>{html.escape(', '.join(map(str, f['examples'])))}</td>"
            f"<td>{html.escape(f['message'])}</td></tr>"
            for f in s["findings"]
        )
        or '<tr><td colspan="5">No problems found.</td></tr>'
    )
    r12 = s["remission_12m"]
    r12_known = r12["yes"] + r12["no"]
    median = s["median_days_to_trd"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>trdnav cohort report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }}
.note {{ background: #fff6d6; padding: 0.6em; border-left: 4px solid #e0b000; }}
</style></head><body>
<h1>TRD cohort report</h1>
<p class="note">{html.escape(_NOTICE)}</p>
<p>Engine <b>{html.escape(s["engine"])}</b>, data as of <b>{s["as_of"]}</b>.</p>
<h2>Counts</h2>
<table>
<tr><th>persons</th><td>{n:,}</td></tr>
<tr><th>with a depressive episode</th><td>{dep:,} ({_pct(dep, n)})</td></tr>
<tr><th>with TRD</th><td>{trd:,} ({_pct(trd, dep)} of those with an episode)</td></tr>
</table>
<h2>Thase-Rush stage</h2>
{_bars([(f"stage {k}", v) for k, v in s["thase_rush"].items()])}
<h2>Maudsley staging band</h2>
{_bars([(k if k != "None" else "severity not coded", v) for k, v in s["msm_band"].items()])}
<h2>Treatment sequences</h2>
<p>Lines of treatment (a new antidepressant or augmentation agent starts a line), commonest
first.</p>
{_bars([(x["sequence"], x["persons"]) for x in s["sequences"]], width=300)}
<h2>Time to TRD</h2>
<p>Days from the episode onset to the TRD date; median
{median if median is not None else "n/a"}.</p>
{_bars(list(s["days_to_trd"].items()))}
<h2>Remission by line of treatment</h2>
<table><tr><th>line</th><th>persons reaching it</th><th>remitted during it</th><th>rate</th></tr>
{remission_rows}</table>
<h2>Remission at 12 months (PHQ-9)</h2>
<p>{r12["yes"]:,} in remission, {r12["no"]:,} not ({_pct(r12["yes"], r12_known)} of those
assessed); {r12["unknown"]:,} with an episode but no PHQ-9 index or follow-up, or whose
follow-up window was still open on their assessment date.</p>
<h2>Treatments received</h2>
{_bars(list(s["received"].items()))}
<h2>Data checks</h2>
<table><tr><th>check</th><th>table</th><th>count</th><th>examples</th><th>meaning</th></tr>
{finding_rows}</table>
</body></html>
"""
