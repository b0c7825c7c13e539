"""SQLite with write transactions queued on a file lock instead of SQLite's busy loop.

SQLite allows one writer at a time. A writer that finds the database locked
waits in SQLite's busy handler, which polls with sleeps growing to 100 ms, so
with a bridge, a relay and several workers writing, most of the time goes to
sleeping while the lock is free. Here every ``BEGIN IMMEDIATE`` first takes an
exclusive ``flock`` on a file beside the database, released at commit or
rollback: a waiting process wakes the moment the lock is released. Transactions
stay exactly SQLite's; the file lock only orders who asks first.
"""

from __future__ import annotations

import fcntl
import os

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    _lock_fd: int | None = None
    _locked = False

    def _write_lock_fd(self) -> int | None:
        if self.is_in_memory_db():
            return None
        if self._lock_fd is None:
            path = f"{self.settings_dict['NAME']}.writer.lock"
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._lock_fd

    def _start_transaction_under_autocommit(self) -> None:
        fd = self._write_lock_fd()
        if fd is not None and not self._locked:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._locked = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._locked and self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._locked = False

    def _commit(self) -> None:
        try:
            return super()._commit()
        finally:
            self._release()

    def _rollback(self) -> None:
        try:
            return super()._rollback()
        finally:
            self._release()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
