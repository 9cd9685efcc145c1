"""Metric aggregation, agent side: rules to `Batchs` (spec/aggregate.md §1-§3) and the shared hashes.

`offload.aggregate.hashing` holds the hash functions both ends must agree on (routing,
pick and calculator keys, FNV-1a for count_distinct); the receiver's window cache
(`receiver.aggregate`) imports them from here.
"""
