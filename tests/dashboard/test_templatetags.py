import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from django.template import Context, Template

from dashboard.templatetags.dashboard import badge, bar_chart, duration, relative, reltime


def test_it_writes_relative_times_with_the_absolute_time_on_hover():
    moment = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    html = str(reltime(moment))
    assert 'title="2026-03-01 12:00:00 UTC"' in html and 'datetime="2026-03-01T12:00:00+00:00"' in html


def test_it_says_ago_and_in():
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert relative(now - timedelta(minutes=5), now=now) == "5 min ago"
    assert relative(now + timedelta(hours=3), now=now) == "in 3 h"
    assert relative(now - timedelta(days=3), now=now) == "3 d ago"
    assert relative("2026-03-01T11:59:58+00:00", now=now) == "just now"


def test_it_shows_a_dash_for_missing_times():
    assert reltime(None) == "—" and reltime(None, "never") == "never"


def test_it_formats_durations():
    assert duration(timedelta(seconds=125)) == "2 min 5 s"
    assert duration(0.25) == "250 ms"
    assert duration(None) == "—"


def test_it_gives_one_colour_class_per_status():
    assert 'class="badge status-auth_failed">auth failed<' in str(badge("auth_failed"))


def test_it_scales_bars_to_the_largest_value():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    chart = bar_chart([(start + timedelta(hours=i), v) for i, v in enumerate([0, 5, 10])], label="x")
    heights = [b["h"] for b in chart["bars"]]
    assert heights[0] == 0 and heights[2] == 2 * heights[1] and chart["total"] == "15" and not chart["empty"]
    assert chart["ticks"][0]["label"] == "01 Mar 00:00"


# Advance widths in em of DejaVu Sans, a wide sans-serif face and Debian's fallback.
DEJAVU_SANS_EMS = {**dict.fromkeys("0123456789", 0.636), " ": 0.318, ",": 0.318, ".": 0.318, ":": 0.337,
                   "J": 0.295, "F": 0.575, "M": 0.863, "A": 0.684, "S": 0.635, "O": 0.787, "N": 0.748, "D": 0.770,
                   "a": 0.613, "n": 0.634, "e": 0.615, "b": 0.635, "r": 0.411, "p": 0.635, "y": 0.592, "u": 0.634,
                   "l": 0.278, "g": 0.635, "c": 0.550, "t": 0.392, "o": 0.612, "v": 0.592}


def chart_texts(svg: str) -> tuple[float, list[tuple[float, str, str]]]:
    """The viewBox width and every <text> of a rendered chart as (x, text-anchor, text)."""
    root = ElementTree.fromstring(re.search(r"<svg.*</svg>", svg, re.S).group(0))
    width = float(root.get("viewBox").split()[2])
    return width, [(float(t.get("x")), t.get("text-anchor", "start"), t.text) for t in root.iter("text")]


def test_it_keeps_every_axis_label_inside_the_chart_whatever_the_dates_and_maxima():
    # The last bar at 12:00 puts a label at the right edge; the maxima need wide y labels.
    end = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for top in (45_774, 987_654_321, 7):
        series = [(end - timedelta(hours=47 - i), top if i == 20 else i % 3) for i in range(48)]
        html = Template("{% load dashboard %}{% bar_chart series label='x' %}").render(Context({"series": series}))
        width, texts = chart_texts(html)
        assert texts[-1][2] == "01 Dec 12:00" and f"{top:,}" in [t for _, _, t in texts]
        for x, anchor, text in texts:
            drawn = 10 * sum(DEJAVU_SANS_EMS.get(c, 1.0) for c in text)  # the ticks' font-size is 10
            left = {"start": x, "end": x - drawn, "middle": x - drawn / 2}[anchor]
            assert 0 <= left and left + drawn <= width, f"{text!r} at {x} ({anchor}) leaves the 0..{width} box"
