"""Which keys a case's ``extra_info`` holds, in which order, and how each is read back
(:class:`fileproto.results.record.LoadResult` documents what each means). The order is
fixed: new keys come after every older one, so an older run reads and writes back
unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fileproto.results.felt import background_of, counts_of, percentiles_of
from fileproto.results.fields import (
    bool_field,
    float_field,
    float_list,
    int_field,
    server_workers_field,
    size_field,
    str_field,
)
from fileproto.results.timeline import server_events_of, timeline_of

REQUIRED: dict[str, Callable[[Any], Any]] = {
    "operation": str_field,
    "size_mib": size_field,
    "size_bytes": int_field,
    "client_workers": int_field,
    "server_workers": server_workers_field,
    "server_kind": str_field,
    "method": str_field,
    "avg_time_s": float_field,
    "throughput_Bps": float_field,
    "aggregate_Bps": float_field,
    "wall_time_s": float_field,
    "successes": int_field,
    "failures": int_field,
    "verified": bool_field,
    "first_error": str_field,
}
OPTIONAL: dict[str, Callable[[Any], Any]] = {
    "dialect": str_field,
    "client_peak_rss_bytes": int_field,
    "rounds": int_field,
    "interrupted": bool_field,
    "server_peak_rss_bytes": int_field,
    "limit_time_s": float_field,
    "limit_Bps": float_field,
    "ratio_to_limit": float_field,
    "dispatch": str_field,
    "scenario": str_field,
    "rate_Bps": float_field,
    "deadline_s": float_field,
    "moved_bytes": int_field,
    "moved_Bps": float_field,
    "offered_Bps": float_field,
    "ratio_to_offered": float_field,
    "failure_kinds": counts_of,
    "ttfb_s": percentiles_of,
    "request_s": percentiles_of,
    "probe_s": percentiles_of,
    "probe_failures": int_field,
    "background": background_of,
    "ttfb_sent_s": percentiles_of,
    "request_sent_s": percentiles_of,
    "probe_sent_s": percentiles_of,
    "probe_late": int_field,
    "probe_in_flight": int_field,
    "timeline": timeline_of,
    "server_events": server_events_of,
    "server_events_dropped": int_field,
    "round_times_s": float_list,
    "probe_due": int_field,
    "probe_answered": int_field,
    "probe_cut_off": int_field,
    "schedule": str_field,
}
#: Fields that may hold null (first_error is required but null when nothing failed).
NULLABLE = frozenset({"first_error", *OPTIONAL})
KNOWN = frozenset({*REQUIRED, *OPTIONAL})
#: extra_info's key order, as the plugin has always written it.
KEYS = (
    "operation",
    "size_mib",
    "size_bytes",
    "client_workers",
    "server_workers",
    "server_kind",
    "method",
    "dialect",
    "avg_time_s",
    "throughput_Bps",
    "aggregate_Bps",
    "wall_time_s",
    "successes",
    "failures",
    "verified",
    "first_error",
    "client_peak_rss_bytes",
    "rounds",
    "interrupted",
    "server_peak_rss_bytes",
    "limit_time_s",
    "limit_Bps",
    "ratio_to_limit",
    # Added for clients that wait: after every older key, so an older run's
    # extra_info reads and writes back unchanged.
    "dispatch",
    "scenario",
    "rate_Bps",
    "deadline_s",
    "moved_bytes",
    "moved_Bps",
    "offered_Bps",
    "ratio_to_offered",
    "failure_kinds",
    "ttfb_s",
    "request_s",
    "probe_s",
    "probe_failures",
    "background",
    # Added for timelines and latency without coordinated omission (docs/trace.md).
    "ttfb_sent_s",
    "request_sent_s",
    "probe_sent_s",
    "probe_late",
    "probe_in_flight",
    "timeline",
    "server_events",
    "server_events_dropped",
    # Added for verdicts (docs/statistics.md).
    "round_times_s",
    # Added for probes cut off by the case's end (docs/trace.md).
    "probe_due",
    "probe_answered",
    "probe_cut_off",
    # Added for the pools' schedules (docs/architecture.md, "Scheduling").
    "schedule",
)
assert set(KEYS) == KNOWN
