"""Charts as server-rendered SVG: no script, readable by screen readers through their title and table."""

from __future__ import annotations

from html import escape

from curator.subscribers import Week

SERIES = (("confirmed", "Confirmed", "#17743f"), ("unsubscribed", "Unsubscribed", "#8a5a00"),
          ("bounced", "Bounced", "#b3261e"))
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 240, 36, 40, 28


def growth_svg(weeks: list[Week]) -> str:
    """Grouped bars per week (confirmed, unsubscribed, bounced), with a legend; scales to its container."""
    top = max([1] + [getattr(w, name) for w in weeks for name, _, _ in SERIES])
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(1, len(weeks))
    bar = max(2.0, slot / (len(SERIES) + 1))
    total = {name: sum(getattr(w, name) for w in weeks) for name, _, _ in SERIES}
    label = "New subscribers per week: " + ", ".join(f"{total[n]} {t.lower()}" for n, t, _ in SERIES) + \
        f" over {len(weeks)} weeks"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-labelledby="growth-title" class="chart" preserveAspectRatio="xMidYMid meet">',
           f'<title id="growth-title">{escape(label)}</title>']
    for i, (name, title, colour) in enumerate(SERIES):  # the legend
        x = PAD_LEFT + i * 150
        out.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 18}" y="16" font-size="13" fill="#1c2230">{title} ({total[name]})</text>')
    base = PAD_TOP + plot_h
    for tick in sorted({0, top // 2, top}):
        y = base - plot_h * tick / top
        out.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde1e8"/>'
                   f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                   f'fill="#5a6374">{tick}</text>')
    for i, week in enumerate(weeks):
        x0 = PAD_LEFT + i * slot + bar / 2
        for j, (name, title, colour) in enumerate(SERIES):
            value = getattr(week, name)
            h = plot_h * value / top
            out.append(f'<rect x="{x0 + j * bar:.1f}" y="{base - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
                       f'fill="{colour}"><title>{title}, week of {week.start:%d %b}: {value}</title></rect>')
        if i % 2 == 0 or len(weeks) <= 8:
            out.append(f'<text x="{PAD_LEFT + (i + 0.5) * slot:.1f}" y="{base + 16}" font-size="11" '
                       f'text-anchor="middle" fill="#5a6374">{week.start.day} {week.start:%b}</text>')
    out.append("</svg>")
    return "".join(out)
