"""Presentation helpers shared by every dashboard page: times, durations, badges, JSON, charts."""

import json
import math
from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from core.errors import CatalogError, spec_for
from dashboard.selectors.runs import run_progress
from syncs.services import sync_allowed_check

register = template.Library()


def _as_datetime(value) -> datetime | None:
    # Timeline entries and checkpoints keep ISO strings in JSON, models keep datetimes.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def relative(value, *, now: datetime | None = None) -> str:
    moment = _as_datetime(value)
    if moment is None:
        return ""
    delta = ((now or timezone.now()) - moment).total_seconds()
    if abs(delta) < 5:
        return "just now"
    return f"{_span(delta)} ago" if delta > 0 else f"in {_span(delta)}"


@register.simple_tag
def reltime(value, empty: str = "—"):
    """A relative time for reading, the absolute UTC time on hover and for machines."""
    moment = _as_datetime(value)
    if moment is None:
        return empty
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), _absolute(moment),
                       relative(moment))


def _absolute(moment: datetime) -> str:
    # Always UTC, whatever TIME_ZONE says: the date filters take UTC, so what people copy must be too.
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.simple_tag
def clocktime(value, empty: str = "—"):
    """hh:mm:ss UTC, for where order and gaps matter (a run's timeline): "just now" on every step
    would hide the waits between them."""
    moment = _as_datetime(value)
    if moment is None:
        return empty
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), _absolute(moment),
                       moment.astimezone(UTC).strftime("%H:%M:%S"))


@register.filter
def duration(value) -> str:
    """A timedelta or seconds as "2 min 5 s"; empty for None."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{int(seconds * 1000)} ms"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@register.simple_tag
def badge(status, label: str = ""):
    """One status, one colour everywhere (static/css/app.css: .status-*)."""
    if not status:
        return "—"
    return format_html('<span class="badge status-{}">{}</span>', status, label or str(status).replace("_", " "))


@register.filter
def pretty_json(value) -> str:
    if value in (None, "", {}, []):
        return ""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def error_action(code: str) -> str:
    """The catalogue's hint of what to do about an error code."""
    return spec_for(code).action if code else ""


@register.filter
def percent(value) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f} %" if value in (0, 1) else f"{value * 100:.1f} %"


@register.filter
def humanize_entity(value) -> str:
    """An entity key as people read it: "inventory_items" is "inventory items". Every template
    shows entity names through this filter, never the raw key."""
    return str(value).replace("_", " ") if value else ""


@register.filter
def num(value) -> str:
    """A count with thousands separators ("12,345"), whatever the locale settings; "—" for None."""
    if value is None or value == "":
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.simple_tag
def counted(value, singular: str, plural: str = ""):
    """A count and its noun, in the right number: "1 delivery", "2 deliveries", "1,204 runs"."""
    word = singular if value == 1 else (plural or f"{singular}s")
    return f"{num(value)} {word}"


DETAIL_CHARS = 80  # per value: a details column stays a few lines high


def _detail_value(value) -> str:
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, default=str, separators=(", ", ": "))
    return Truncator(str(value)).chars(DETAIL_CHARS)


@register.filter
def details_text(value) -> str:
    """A details dict as short "key: value" text, readable in a list without a click."""
    if not value:
        return ""
    if not isinstance(value, dict):
        return _detail_value(value)
    return " · ".join(f"{key.replace('_', ' ')}: {_detail_value(item)}" for key, item in sorted(value.items()))


@register.simple_tag
def run_note(run, waiting=None):
    """Under a queued or running run's status: what it waits for and until when ("waiting: rate
    limited until 12:03:04 UTC"), or how far it is and when it should end (percent and ETA, where
    the upstream reports a total). Empty otherwise."""
    waiting = waiting or run.waiting
    if waiting:
        until = waiting.get("until")
        if until:
            return format_html('<span class="run-note waiting">waiting: {} until {} UTC</span>', waiting["reason"],
                               until.astimezone(UTC).strftime("%H:%M:%S"))
        return format_html('<span class="run-note waiting">waiting: {}</span>', waiting["reason"])
    progress = run_progress(run=run, now=timezone.now())
    if progress is None:
        return ""
    text = f"{progress.percent} % of {num(run.total_records)}"
    if progress.eta is not None:
        text += f" · about {_span(progress.seconds_left)} left, ETA {progress.eta.strftime('%H:%M:%S')} UTC"
    return format_html('<span class="run-note progress">{}</span>', text)


# Chart geometry, in SVG user units. TICK_FONT is .chart .tick's font-size in static/css/app.css.
TICK_FONT, TICK_GAP, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 10, 6, 4, 8, 18


def _label_width(text: str) -> float:
    # The server cannot measure text, so it takes each character as wide as the widest of its kind
    # in DejaVu Sans (among the widest sans-serif faces, and Debian's fallback): labels get room
    # to spare, never too little.
    ems = sum(0.34 if c in " ,.:" else 0.87 if c.isupper() else 0.64 for c in text)
    return ems * TICK_FONT


def _x_ticks(candidates: list[tuple[float, str]], *, left: float, right: float) -> list[dict]:
    """Labels at their bar's left edge; one that would cross the right edge is right-aligned to it
    instead, and one that would overlap the label before it is left out."""
    ticks, free_from = [], left
    for x, label in candidates:
        width = _label_width(label)
        at_end = x + width > right
        start = right - width if at_end else x
        if start < free_from:
            continue
        ticks.append({"x": round(right if at_end else x, 1), "anchor": "end" if at_end else "start", "label": label})
        free_from = start + width + TICK_GAP
    return ticks


def _tick_label(rng, start: datetime) -> str | None:
    if rng is None:  # hourly bars with no range given: a label every 12 hours
        return start.strftime("%d %b %H:%M") if start.hour % 12 == 0 else None
    return rng.tick(start)


def _value_label(value: float, decimals: int) -> str:
    # English grouping, as the rest of the dashboard; not number_format, whose locale lookups ran
    # for every bar and were half of a dozen charts' render time.
    return f"{value:,.{decimals}f}"


@register.inclusion_tag("dashboard/_bar_chart.html")
def bar_chart(series, *, label: str, unit: str = "", tone: str = "run", width: int = 720, height: int = 150,
              rng=None, overlay=None, overlay_label: str = "", decimals: int = 0, total: bool = True):
    """A server-drawn SVG bar chart of [(bucket start, value)], oldest first: no JavaScript, no CDN.

    `rng` (dashboard/selectors/charts.py ChartRange) names the buckets and places the date
    labels. `overlay`, a second series of the same buckets (records changed within records read,
    failed deliveries within all, p50 within p95), is drawn over the first from the same base.
    Bars are proportional to the largest value; every bar has a <title> for the exact figures.
    Every axis label stays inside the viewBox, however long the maximum or the dates.
    `total`: the caption sums the bars (False for averages and percentiles, which do not add up).
    """
    series, overlay = list(series), list(overlay or [])
    top = max([v for _, v in series] + [v for _, v in overlay], default=0) or 1
    top_label = _value_label(top, decimals if top < 10 else 0)
    # The y-axis labels are right-aligned against the plot: its left margin fits the longest one.
    pad_left = math.ceil(max(_label_width(top_label), _label_width("0")) + 2 * TICK_GAP)
    plot_w, plot_h = width - pad_left - PAD_RIGHT, height - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(series), 1)
    inner = dict(overlay)
    bars, candidates = [], []
    for i, (start, value) in enumerate(series):
        x = pad_left + i * step
        bar = {"x": round(x + 0.5, 1), "w": round(max(step - 1, 1), 1), "value": _value_label(value, decimals),
               "start": start, "period": rng.title(start) if rng else f"{start:%d %b %H:%M} UTC",
               **_bar_box(value, top=top, plot_h=plot_h)}
        if overlay:
            bar["inner"] = {**_bar_box(inner.get(start, 0), top=top, plot_h=plot_h),
                            "value": _value_label(inner.get(start, 0), decimals)}
        bars.append(bar)
        if (tick := _tick_label(rng, start)) is not None:
            candidates.append((x, tick))
    per = rng.per if rng else "hour"
    return {"bars": bars, "bars_svg": _bars_svg(bars, unit=unit, overlay_label=overlay_label if overlay else None),
            "ticks": _x_ticks(candidates, left=pad_left, right=width - PAD_RIGHT), "top": top,
            "top_label": top_label, "total": _value_label(sum(v for _, v in series), decimals) if total else "",
            "label": label, "unit": unit, "tone": tone, "per": per, "span": rng.span if rng else f"{len(series)} h",
            "overlay_label": overlay_label, "overlay_total": _value_label(sum(v for _, v in overlay), decimals),
            "has_overlay": bool(overlay), "width": width, "height": height, "base_y": PAD_TOP + plot_h,
            "top_y": PAD_TOP, "pad_left": pad_left, "label_x": pad_left - TICK_GAP, "text_y": height - 4,
            "empty": not any(v for _, v in series)}


def _bars_svg(bars: list[dict], *, unit: str, overlay_label: str | None) -> str:
    """The bars' SVG, written here rather than by a template loop: a page of a dozen charts
    has hundreds of bars, and the loop was most of its render time."""
    rows = []
    for bar in bars:
        title = f"{bar['period']}: {bar['value']} {unit}"
        inner = ""
        if overlay_label is not None:
            title += f", {bar['inner']['value']} {overlay_label}"
            if bar["inner"]["h"]:
                inner = format_html('<rect class="bar inner" x="{}" y="{}" width="{}" height="{}"/>', bar["x"],
                                    bar["inner"]["y"], bar["w"], bar["inner"]["h"])
        rows.append(format_html('<g><title>{}</title><rect class="bar" x="{}" y="{}" width="{}" height="{}"/>{}</g>',
                                title, bar["x"], bar["y"], bar["w"], bar["h"], inner))
    return mark_safe("".join(rows))  # every part went through format_html


def _bar_box(value: float, *, top: float, plot_h: float) -> dict:
    h = plot_h * value / top
    return {"y": round(PAD_TOP + plot_h - h, 1), "h": round(h, 1)}


@register.filter
def sync_refusal(connection) -> str:
    """The catalogued code a manual sync of this connection would be refused with, or "": the sync
    buttons are disabled with the reason rather than offered and then refused."""
    try:
        sync_allowed_check(connection=connection)
    except CatalogError as exc:
        return exc.code
    return ""
