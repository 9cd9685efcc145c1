"""Dataway's aggregate API on the receivers: `POST /v1/aggregate` (spec/aggregate.md, wire.md §f).

    config.py      AggregateConfig: aggregator_mode / aggregator_endpoint / aggregator_tolerance, DW_AGGREGATOR_*
    service.py     AggregateService: the route, the 1 s flush tick, the minutely self-report, lifecycle
    window.py      WindowCache: pure window logic (alignment, buckets, tokens, late data, flush)
    batch.py       decoding Batchs bodies (lazy schema), AlgoSpec, field values
    series.py      per-series byte templates: the window cache's fast path for series seen before
    algorithms.py  calculators: sum avg count min max first last stdev delta rate increase rollup
    sketches.py    calculators: quantiles count_distinct histogram
    state.py       StateLog: the crash-safety log of accepted batches and flushed windows
    proxy.py       AggregateProxy: proxy mode, pick_key % N
    selfmetrics.py Prometheus counters and their dataway_aggregate self-report
    errors.py      InvalidBatch, UnknownMethod, InvalidPickKey
"""

from receiver.aggregate.config import AggregateConfig
from receiver.aggregate.errors import InvalidBatch, InvalidPickKey, UnknownMethod
from receiver.aggregate.service import AggregateService
from receiver.aggregate.state import StateLog
from receiver.aggregate.window import FeedResult, Window, WindowCache

__all__ = [
    "AggregateConfig", "AggregateService", "WindowCache", "Window", "FeedResult", "StateLog",
    "InvalidBatch", "UnknownMethod", "InvalidPickKey",
]
