"""Durable storage behind a small interface. The registry keeps every object in memory and hands the
storage batches of changes; a batch is on disk (fsynced) before any write in it is acknowledged.

SQLite in WAL mode with synchronous=FULL: one transaction per batch, so concurrent writers share one
fsync (group commit). The `changes` table is the watch history: it lets watchers resume across a
server restart, and is trimmed to the watch window."""
from __future__ import annotations

import itertools
import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Iterable, Protocol


@dataclass(slots=True)
class StoredChange:
    rv: int
    type: str            # ADDED, MODIFIED, DELETED
    kind: str
    namespace: str
    name: str
    raw: bytes


class Storage(Protocol):
    def load_objects(self) -> Iterable[tuple[str, str, str, int, bytes]]: ...
    def load_changes(self, limit: int) -> list[StoredChange]: ...
    def current_rv(self) -> int: ...
    def commit(self, changes: list[StoredChange]) -> None: ...
    def close(self) -> None: ...


class SQLiteStorage:
    """One SQLite file. All calls come from the registry's single writer thread (and start-up)."""

    def __init__(self, path: str, history: int = 50_000):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.history = history
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS objects (
                kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                rv INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (kind, namespace, name));
            CREATE TABLE IF NOT EXISTS changes (
                rv INTEGER PRIMARY KEY, type TEXT NOT NULL, kind TEXT NOT NULL,
                namespace TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        """)
        self._commits = 0

    def load_objects(self):
        return self._db.execute("SELECT kind, namespace, name, rv, data FROM objects").fetchall()

    def load_changes(self, limit: int) -> list[StoredChange]:
        rows = self._db.execute(
            "SELECT rv, type, kind, namespace, name, data FROM changes ORDER BY rv DESC LIMIT ?",
            (limit,)).fetchall()
        return [StoredChange(*r) for r in reversed(rows)]

    def current_rv(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        row2 = self._db.execute("SELECT MAX(rv) FROM changes").fetchone()
        return max(row[0] if row else 0, row2[0] or 0)

    def commit(self, changes: list[StoredChange]) -> None:
        if not changes:
            return
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                # Applied in rv order, so a delete then a re-create of one key in a batch ends present;
                # each run of writes (or of deletes) is one statement
                for deleted, run in itertools.groupby(changes, lambda c: c.type == "DELETED"):
                    if deleted:
                        db.executemany("DELETE FROM objects WHERE kind=? AND namespace=? AND name=?",
                                       [(c.kind, c.namespace, c.name) for c in run])
                    else:
                        db.executemany("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)",
                                       [(c.kind, c.namespace, c.name, c.rv, c.raw) for c in run])
                db.executemany("INSERT INTO changes VALUES (?,?,?,?,?,?)",
                               [(c.rv, c.type, c.kind, c.namespace, c.name, c.raw) for c in changes])
                db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (changes[-1].rv,))
                self._commits += 1
                if self._commits % 500 == 0:
                    db.execute("DELETE FROM changes WHERE rv <= ?", (changes[-1].rv - self.history,))
                db.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (disk full, I/O error): the caller must see
                # that first error, not "cannot rollback - no transaction is active"
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
