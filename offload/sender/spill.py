"""Disk spill for batches that cannot be read again: one file per batch in `[sender] spill_dir`.

Only non-replayable batches spill (the HTTP write API, stdin): a tailed file is its
own buffer, so a file input simply stops reading while the queue is full.

A spill file is the batch's serialized `offload.v1.OffloadBatch` (id, hop, source,
token and payload), written to a temporary name, fsynced and renamed, so a crash
leaves either the whole file or none. A file is deleted only after the receiver
acked the batch (or it was given up), so batches spilled before a crash or a
shutdown are replayed, with their original ids, when the agent starts again.
Names sort in spill order: `<20-digit sequence>-<batch id>.batch`.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path

from offload.sender.batch import Batch

__all__ = ["SpillStore"]

log = logging.getLogger("offload.sender.spill")
_SUFFIX = ".batch"


class SpillStore:
    def __init__(self, directory: str | os.PathLike, max_bytes: int = 1 << 30) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._entries: deque[tuple[Path, int]] = deque()  # not yet handed out, oldest first
        self._bytes = 0  # every file on disk, handed out or not
        self._seq = 0
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)  # a write cut short by a crash
        for path in sorted(self.dir.glob("*" + _SUFFIX)):
            size = path.stat().st_size
            self._entries.append((path, size))
            self._bytes += size
            try:
                self._seq = max(self._seq, int(path.name.split("-", 1)[0]) + 1)
            except ValueError:
                pass
        if self._entries:
            log.info("replaying %d spilled batches (%d bytes) from %s", len(self._entries), self._bytes, self.dir)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def has_room(self, size: int) -> bool:
        return self._bytes + size <= self.max_bytes

    def write(self, batch: Batch) -> Path:
        """Persist `batch` (blocking I/O: call it from a thread)."""
        body = batch.grpc_body()
        path = self.dir / f"{self._seq:020d}-{batch.batch_id.hex()}{_SUFFIX}"
        self._seq += 1
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.dir)
        self._entries.append((path, len(body)))
        self._bytes += len(body)
        return path

    def take(self) -> Batch | None:
        """The oldest spilled batch, its file removed when the batch finishes (blocking I/O)."""
        while self._entries:
            path, size = self._entries.popleft()
            try:
                body = path.read_bytes()
                batch = Batch.from_grpc_body(body, spillable=True)
            except Exception as exc:  # unreadable: keep it for inspection, do not loop on it
                log.error("skipping unreadable spill file %s: %s", path, exc)
                path.rename(path.with_suffix(".bad"))
                self._bytes -= size
                continue
            batch.on_done = self._remover(path, size)
            batch.from_spill = True
            return batch
        return None

    def _remover(self, path: Path, size: int):
        def remove(batch: Batch, ok: bool) -> None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            self._bytes -= size

        return remove


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
