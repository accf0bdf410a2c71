"""An issue report as CSV (one row per pick) and its trend as a server-rendered SVG chart."""

from __future__ import annotations

import csv
import io
from html import escape

from curator.engagement.figures import Report

CSV_COLUMNS = (
    "period", "topic", "rank", "title", "url", "source", "human_clicks", "machine_clicks", "human_click_rate",
    "more_like_this", "less_like_this",
)  # fmt: skip


def report_csv(report: Report) -> str:
    """One row per approved pick; the rate is human clicks per recipient the issue was sent to."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in report.picks:
        rate = f"{p.human_clicks / report.sent:.4f}" if report.sent else ""
        writer.writerow([
            report.period, p.topic, p.rank, _cell(p.title), p.url, _cell(p.source), p.human_clicks, p.machine_clicks,
            rate, p.more, p.less,
        ])  # fmt: skip
    return out.getvalue()


def _cell(text: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: feed titles are not trusted.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 230, 44, 46, 16
SERIES = (("human_opens", "Human opens", "#2156c4"), ("human_clickers", "Human clickers", "#17743f"))


def trend_svg(trend: list[dict]) -> str:
    """A line chart of the share of recipients who opened and who clicked (people only), per issue."""
    label = "Share of recipients who opened and who clicked, people only, over the last issues"
    if not trend:
        return ""
    plot_w, plot_h = WIDTH - PAD_LEFT - 12, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(trend) - 1, 1)
    rates = {key: [(row[key] / row["sent"]) if row["sent"] else 0.0 for row in trend] for key, _, _ in SERIES}
    top = max([0.1] + [v for values in rates.values() for v in values])

    def xy(i: int, value: float) -> tuple[float, float]:
        return PAD_LEFT + i * step, PAD_TOP + plot_h * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="trend-title"><title id="trend-title">{escape(label)}</title>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 12}" y2="{PAD_TOP + plot_h}" stroke="#5a6374"/>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end" font-size="11" fill="#1c2230">'
        f"{100 * top:.0f}%</text>",
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + plot_h}" text-anchor="end" font-size="11" fill="#1c2230">0%</text>',
    ]
    for i, row in enumerate(trend):
        x, _ = xy(i, 0)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 26}" text-anchor="middle" font-size="11" fill="#1c2230">'
            f"{escape(row['period'])}</text>"
        )
    for n, (key, name, colour) in enumerate(SERIES):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(rates[key])))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, value in enumerate(rates[key]):
            x, y = xy(i, value)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)} '
                f"{escape(trend[i]['period'])}: {100 * value:.1f}%</title></circle>"
            )
        legend_x = PAD_LEFT + 8 + n * 150
        parts.append(f'<text x="{legend_x}" y="{HEIGHT - 6}" font-size="11" fill="{colour}">■ {escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
