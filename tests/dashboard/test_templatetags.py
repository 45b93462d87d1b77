import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from django.template import Context, Template

from dashboard.selectors.runs import run_progress
from dashboard.templatetags.dashboard import (
    badge,
    bar_chart,
    clocktime,
    counted,
    details_text,
    duration,
    humanize_entity,
    num,
    relative,
    reltime,
    run_note,
)


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


# --- live pages, times and words (docs/architecture.md, "Live pages, times and words") ------------

NOON = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def running_run(**fields):
    from syncs.models import SyncRun

    return SyncRun(**{"status": "running", "entity": "inventory_items", "started_at": NOON, **fields})


def test_it_shows_timeline_times_as_hh_mm_ss_utc_with_the_date_on_hover():
    html = str(clocktime("2026-03-01T14:05:09+02:00"))
    assert ">12:05:09</time>" in html and 'title="2026-03-01 12:05:09 UTC"' in html
    assert clocktime(None) == "—"


def test_it_titles_relative_times_in_utc_whatever_the_offset_given():
    html = str(reltime(datetime.fromisoformat("2026-03-01T14:00:00+02:00")))
    assert 'title="2026-03-01 12:00:00 UTC"' in html and html.startswith("<time datetime=")


def test_it_writes_counts_with_thousands_separators():
    assert (num(1234567), num(0), num(None), num("12")) == ("1,234,567", "0", "—", "12")


def test_it_counts_in_the_right_number():
    assert counted(1, "delivery", "deliveries") == "1 delivery"
    assert counted(2, "delivery", "deliveries") == "2 deliveries"
    assert counted(0, "run") == "0 runs" and counted(12345, "run") == "12,345 runs"


def test_it_names_entities_as_people_read_them():
    assert humanize_entity("inventory_items") == "inventory items" and humanize_entity("") == ""
    template = Template("{% load dashboard %}{{ e|humanize_entity }}")
    assert template.render(Context({"e": "work_orders"})) == "work orders"


def test_it_writes_audit_details_as_short_key_value_text():
    text = details_text({"sync_interval_minutes": 30, "entities": ["vendors", "assets"], "long": "x" * 200})
    assert text.startswith('entities: ["vendors", "assets"] · long: xxx')
    assert text.endswith(" · sync interval minutes: 30") and len(text) < 200
    assert details_text({}) == "" and details_text(None) == ""


def test_it_gives_percent_and_an_eta_from_the_rate_so_far():
    run = running_run(fetched=250, total_records=1000)
    progress = run_progress(run=run, now=NOON + timedelta(seconds=50))  # 5 records/s, 750 to go
    assert progress.percent == 25 and progress.seconds_left == 150
    assert progress.eta == NOON + timedelta(seconds=200)


def test_it_gives_no_eta_before_the_rate_is_known_and_no_progress_without_a_total():
    assert run_progress(run=running_run(fetched=0, total_records=1000), now=NOON + timedelta(seconds=30)).eta is None
    assert run_progress(run=running_run(fetched=5, total_records=10), now=NOON + timedelta(seconds=1)).eta is None
    assert run_progress(run=running_run(fetched=5, total_records=None), now=NOON) is None
    assert run_progress(run=running_run(status="succeeded", fetched=5, total_records=5), now=NOON) is None
    assert run_progress(run=running_run(fetched=12, total_records=10), now=NOON + timedelta(seconds=9)).percent == 100


def test_it_notes_percent_and_eta_under_a_running_run(time_machine):
    time_machine.move_to(NOON + timedelta(seconds=50), tick=False)
    html = str(run_note(running_run(fetched=2500, total_records=10000)))
    assert "25 % of 10,000 · about 2 min left, ETA 12:03:20 UTC" in html


def test_it_notes_what_a_queued_run_waits_for_and_until_when(time_machine):
    time_machine.move_to(NOON, tick=False)
    run = running_run(status="queued", not_before=NOON + timedelta(minutes=5, seconds=7), wait_reason="rate limited")
    assert "waiting: rate limited until 12:05:07 UTC" in str(run_note(run))
    assert "waiting: waiting for a slot" in str(run_note(run, {"reason": "waiting for a slot", "until": None}))
    assert run_note(running_run(status="queued")) == ""
