"""prometheus-client (0.26): the value files of the multi-process mode, read and written directly.

Folding an exited worker's counters into the archive (caly/foundation/prometheus_multiprocess.py)
adds its values to the archive's, key by key. prometheus-client does that only inside its own
`mark_process_dead` for gauges, so the files are read and written with `prometheus_client.mmap_dict`,
a module it does not document: `MmapedDict` (`read_all_values_from_file`, `read_value`,
`write_value`, `close`) and `mmap_key`, the key of one sample in such a file. Used here only.

tests/test_library_adapters.py writes a file here and reads it back with prometheus-client's
public MultiProcessCollector.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.mmap_dict import MmapedDict, mmap_key


def file_values(path: str) -> list[tuple[str, float, float]]:
    """Every (key, value, timestamp) in a value file."""
    return [(key, value, timestamp) for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(path)]


def add_to_file(path: str, values: Iterable[tuple[str, float, float]]) -> None:
    """Add each (key, value, timestamp) to the value under that key in the file at `path` (created if missing)."""
    target = MmapedDict(path)
    try:
        for key, value, timestamp in values:
            current, _ = target.read_value(key)
            target.write_value(key, current + value, timestamp)
    finally:
        target.close()


def sample_key(metric_name: str, sample_name: str, labels: dict[str, str], help_text: str) -> str:
    """The key of one sample (e.g. caly_x_total with its labels) in a value file."""
    return mmap_key(metric_name, sample_name, list(labels), list(labels.values()), help_text)
