"""The metric files of prometheus-client's multi-process mode: prepared and compacted by the gunicorn
master, read by `/metrics` in whichever worker answers.

Every process writes `counter_<pid>.db` and `histogram_<pid>.db`, and a scrape reads all of them.
gunicorn recycles workers (max_requests), so without compaction the folder would gain two files per
recycled worker for as long as the master runs, and scrapes would slow down with it. When a worker
exits, the master folds its values into `*_archive.db` and deletes its files. A lock on the folder
keeps a scrape from reading halfway through a fold (a counter seen twice, or not at all, would look
to Prometheus like a reset).

No Django here (nor in the adapter it uses): gunicorn.conf.py imports this in the master, which never
loads the application.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re

from prometheus_client import multiprocess

from caly.foundation.adapters import prometheus

# Summed across processes, so they can be folded exactly. (Gauges would depend on their mode; Caly
# exposes none from the processes: its gauges are read from the database at scrape time.)
_FOLDED_TYPES = ("counter", "histogram", "summary")
_PID_FILE = re.compile(r"^[a-z]+_(?:[a-z]+_)?(\d+)\.db$")


@contextlib.contextmanager
def _locked(path: str, *, exclusive: bool):
    with open(os.path.join(path, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield  # closing the file releases the lock


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(path: str) -> None:
    """Create the folder; remove the archive and the files of processes no longer running.

    A task worker sharing the folder on the same host keeps its files while it runs.
    """
    os.makedirs(path, exist_ok=True)
    with _locked(path, exclusive=True):
        for name in os.listdir(path):
            match = _PID_FILE.match(name)
            if name.endswith("_archive.db") or (match and not _alive(int(match[1]))):
                os.remove(os.path.join(path, name))


def fold_dead_process(pid: int, path: str) -> None:
    """Add an exited process's counters and histograms to the archive files, then delete its files."""
    multiprocess.mark_process_dead(pid, path)
    with _locked(path, exclusive=True):
        for typ in _FOLDED_TYPES:
            dead = os.path.join(path, f"{typ}_{pid}.db")
            if not os.path.exists(dead):
                continue
            prometheus.add_to_file(os.path.join(path, f"{typ}_archive.db"), prometheus.file_values(dead))
            os.remove(dead)


class LockedMultiProcessCollector(multiprocess.MultiProcessCollector):
    """MultiProcessCollector that never reads while the master folds a worker's files."""

    def __init__(self, registry, path: str):
        self.folder = path
        super().__init__(registry, path=path)

    def collect(self):
        with _locked(self.folder, exclusive=False):
            files = glob.glob(os.path.join(self.folder, "*.db"))
            return self.merge(files, accumulate=True)
