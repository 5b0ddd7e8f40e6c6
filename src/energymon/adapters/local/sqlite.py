"""Shared SQLite plumbing: one connection per thread, WAL, and a transaction helper."""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

from energymon.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["DATA_DIR_FIX", "Database", "path_problem"]

DATA_DIR_FIX = "choose a data directory energymon can create and write (--data-dir, or data_dir in the config file)"


def path_problem(path: Path, exc: BaseException, *, folder: bool = False) -> str:
    """Why ``path`` (a file, or a ``folder``, to create or open) cannot be used: the path at fault, in words."""
    problem = _kind_problem(path, folder) or _ancestor_problem(path, exc)
    if problem:
        return problem
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        return f"{path} is not a SQLite database ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename or path}: {exc.strerror}"
    return f"{path}: {exc}"


def _kind_problem(path: Path, folder: bool) -> str | None:
    if not path.exists():
        return None
    if folder != path.is_dir():
        return f"{path} is a {'file' if folder else 'folder'}, not a {'folder' if folder else 'file'}"
    if not os.access(path, os.R_OK | os.W_OK):
        return f"{path} cannot be written (read-only file system or no write permission)"
    return None


def _ancestor_problem(path: Path, exc: BaseException) -> str | None:
    """The nearest folder above ``path`` that exists: a file in the way, read-only, or refusing new entries."""
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is None:
        return None
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the folder {parent} cannot be written (read-only file system or no write permission)"
    if isinstance(exc, OSError) and not path.exists():
        return f"{parent} does not accept new files or folders ({exc.strerror or exc})"
    return None


class Database:
    """A SQLite file used from several threads (and processes): each thread gets its own connection."""

    def __init__(self, path: Path, schema: str, *, synchronous: str = "NORMAL", checkpoint_pages: int = 1000) -> None:
        self.path = path
        self._schema = schema
        self._synchronous = synchronous
        self._checkpoint_pages = checkpoint_pages
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {path.parent} for {path.name}: "
                f"{path_problem(path.parent, exc, folder=True)}; {DATA_DIR_FIX}"
            ) from exc
        try:
            self.connection().executescript(schema)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot open the SQLite file {path}: {path_problem(path, exc)}; {DATA_DIR_FIX}") from exc

    def connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            # isolation_level=None: we open transactions ourselves with BEGIN IMMEDIATE, so a writer
            # never fails half-way on a lock upgrade.
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            try:  # ``connect`` may succeed on a file it cannot write: the first statement says so
                con.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode survives a process crash (SIGKILL); only a power cut can lose the last commits.
                con.execute(f"PRAGMA synchronous={self._synchronous}")
                con.execute("PRAGMA busy_timeout=60000")
                if self._checkpoint_pages != 1000:  # SQLite's default
                    con.execute(f"PRAGMA wal_autocheckpoint={int(self._checkpoint_pages)}")
                    # The WAL file keeps its largest size after a checkpoint unless told otherwise.
                    con.execute(f"PRAGMA journal_size_limit={int(self._checkpoint_pages) * 4096}")
            except sqlite3.Error:
                con.close()
                raise
            self._local.con = con
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; inside another transaction of this thread, part of that one (which
        then commits or rolls back everything: a device's whole batch is one write)."""
        con = self.connection()
        if con.in_transaction:
            yield con
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[sqlite3.Connection]:
        """A transaction of its own, or, inside one, a part of it that a failure undoes alone (SAVEPOINT)."""
        con = self.connection()
        if not con.in_transaction:
            with self.transaction():
                yield con
            return
        con.execute("SAVEPOINT part")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK TO part")
            con.execute("RELEASE part")
            raise
        con.execute("RELEASE part")

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
