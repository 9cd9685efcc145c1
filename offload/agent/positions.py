"""Persisted read positions of tailed files: `<state_dir>/positions.json`.

A position is the byte offset up to which every line of a file has been
acknowledged (by a receiver, or written locally), so a restart resumes exactly
there: nothing lost, nothing re-sent. Entries are keyed by file identity
(`dev:inode`), not by path, so a file renamed by rotation keeps its position.
Because inodes are reused, each entry also stores a fingerprint (a hash of the
file's first bytes, up to 256) that must still match before the position is
trusted, and the path it was last seen at (a new inode at a known path means the
file was rotated while the agent was down: it is read from its beginning).

Each entry has a `nonce`, random per file generation (a new file, or the same file
after truncation). Batch ids are derived from (nonce, start, end), so a batch
resent after a crash carries the id the receiver already saw and is dropped there.

The file is replaced atomically (temporary file, fsync, rename, fsync of the
directory); `save()` is cheap enough to call after every acknowledgement, and the
tailer coalesces calls to at most one per `interval`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["FilePosition", "PositionStore", "fingerprint", "FP_BYTES"]

log = logging.getLogger("offload.agent.positions")
FP_BYTES = 256


@dataclass
class FilePosition:
    path: str
    offset: int
    fp: str  # hex blake2b of the first fp_len bytes
    fp_len: int
    nonce: str  # hex, per generation

    @classmethod
    def from_dict(cls, d: dict) -> "FilePosition":
        return cls(path=str(d["path"]), offset=int(d["offset"]), fp=str(d.get("fp", "")),
                   fp_len=int(d.get("fp_len", 0)), nonce=str(d.get("nonce") or os.urandom(8).hex()))


def fingerprint(fd: int, length: int = FP_BYTES) -> tuple[str, int]:
    """Hash of the first `length` bytes of an open file (fewer if it is shorter)."""
    data = os.pread(fd, length, 0)
    return hashlib.blake2b(data, digest_size=16).hexdigest(), len(data)


class PositionStore:
    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        self.entries: dict[str, FilePosition] = {}
        self.dirty = False
        if self.path is not None and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                for key, d in data.get("files", {}).items():
                    self.entries[key] = FilePosition.from_dict(d)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # A corrupt file cannot come from our atomic writes; start over loudly rather than crash-loop.
                log.error("ignoring unreadable positions file %s: %s", self.path, exc)

    def get(self, key: str) -> FilePosition | None:
        return self.entries.get(key)

    def by_path(self, path: str) -> tuple[str, FilePosition] | None:
        for key, entry in self.entries.items():
            if entry.path == path:
                return key, entry
        return None

    def put(self, key: str, entry: FilePosition) -> None:
        self.entries[key] = entry
        self.dirty = True

    def remove(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self.dirty = True

    def save(self) -> None:
        """Write atomically if anything changed."""
        if self.path is None or not self.dirty:
            return
        self.dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"version": 1, "files": {k: asdict(v) for k, v in self.entries.items()}},
                             indent=1, sort_keys=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass
