"""pipeline-offload's receiver daemon: ingest, pipeline engine, worker pool, aggregate endpoint."""

__all__: list[str] = []
