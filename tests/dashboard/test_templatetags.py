from datetime import UTC, datetime, timedelta

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
    assert heights[0] == 0 and heights[2] == 2 * heights[1] and chart["total"] == 15 and not chart["empty"]
    assert chart["ticks"][0]["label"] == "01 Mar 00:00"
