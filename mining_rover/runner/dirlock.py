"""One writer per output directory: a lock file holding the owner's PID.

Two missions writing the same ``--out`` corrupt each other's MCAP, logs and mission state,
so a run takes ``<dir>/.lock`` first::

    with DirLock(out, purpose='mining-rover sim') as lock:
        ...                          # DirLockHeld (one line, with the holder's PID) if taken

The lock is an ``fcntl.flock`` on the file, which the kernel drops when the holder exits
however it exits (kill -9 included), so a live holder is never mistaken for a dead one and
a dead one never blocks: the file's text (PID, host, start time, purpose) only says who
held it. A lock file left behind by a process that is gone is taken over, and
``stale_owner`` tells the caller whom to warn about. Local file systems only (flock on NFS
depends on the server). Used by `mining-rover sim`; any tool that writes one directory
(a sweep's root) can take the same lock.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
from pathlib import Path

LOCK_NAME = '.lock'


class DirLockHeld(RuntimeError):
    """Another live process holds the directory; ``pid`` is its PID (None if unreadable)."""

    def __init__(self, message: str, pid: int | None):
        super().__init__(message)
        self.pid = pid


def read_owner(path) -> dict:
    """The fields a lock file holds ({'pid': int, 'host': str, 'started': str,
    'purpose': str}); missing or unreadable fields are absent."""
    out = {}
    try:
        text = Path(path).read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition('=')
        if key == 'pid':
            try:
                out['pid'] = int(value)
            except ValueError:
                pass
        elif key in ('host', 'started', 'purpose'):
            out[key] = value
    return out


def pid_alive(pid: int) -> bool:
    """True if a process with this PID exists on this host (ours or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


class DirLock:
    """Exclusive lock on a directory for this process. ``acquire()`` raises DirLockHeld
    naming the holder's PID, or OSError when the directory cannot hold a lock file."""

    def __init__(self, directory, purpose: str = ''):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.purpose = purpose
        self.stale_owner: dict | None = None   # the previous, dead holder, if we took over
        self._fd: int | None = None

    def acquire(self) -> 'DirLock':
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                owner = read_owner(self.path)
                pid = owner.get('pid')
                who = f'PID {pid}' if pid is not None else 'another process'
                extra = ', '.join(f'{k} {owner[k]}' for k in ('purpose', 'started') if owner.get(k))
                raise DirLockHeld(f'{self.directory} is in use by {who}'
                                  f"{f' ({extra})' if extra else ''}; wait for it to end, stop it, "
                                  f'or choose another output directory', pid) from None
            # The holder we waited on may have removed the file before letting go: then
            # our lock is on a file nobody else will open again; take the new one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = read_owner(self.path)
        if previous.get('pid') not in (None, os.getpid()):
            self.stale_owner = previous
        text = (f'pid={os.getpid()}\nhost={socket.gethostname()}\n'
                f"started={time.strftime('%Y-%m-%dT%H:%M:%S%z')}\npurpose={self.purpose}\n")
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def stale_warning(self) -> str | None:
        """One line about the dead holder we took over from, or None."""
        if not self.stale_owner:
            return None
        o = self.stale_owner
        when = f", started {o['started']}" if o.get('started') else ''
        return (f'{self.path}: taking over a stale lock of PID {o.get("pid")}{when}, '
                f'which no longer runs; what it wrote there may be incomplete')

    def release(self):
        """Remove the lock file and drop the lock (in that order, so a waiting process
        never sees our file after getting the lock)."""
        if self._fd is None:
            return
        try:
            if read_owner(self.path).get('pid') == os.getpid():
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
