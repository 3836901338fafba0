"""Apply a scalar standardiser once per distinct value.

Names, addresses and dates repeat heavily in department extracts (a household
shares an address, 张伟 is everywhere), so every vectorised standardiser
computes on ``Series.unique()`` and maps the results back by position.

Ingestion goes further: it keeps a ``cache`` dict per standardiser across sources
(the same person's name comes back in many departments), and at city scale hands
part of the new distinct values to a second process (``ParallelMap``).
"""
from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from typing import Any

import numpy as np
import pandas as pd

# Below this many new distinct values the per-value work is not worth a trip to another process.
PARALLEL_MIN_VALUES = 20_000
# Values per task sent to the worker: large enough to amortise pickling, small enough to balance the load.
PARALLEL_CHUNK = 5_000

# GIL switch interval (seconds) while workers are fed: see ParallelMap.map.
_FEEDING_SWITCH_INTERVAL = 0.001

_NOT_CACHED = object()


def _apply_all(function: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """``[function(v) for v in values]`` as a top-level function, so a worker process can run it."""
    return [function(value) for value in values]


@contextmanager
def _main_script_not_rerun() -> Iterator[None]:
    """While workers start, keep them from re-running the script that started this process.

    A spawned worker normally re-imports the parent's main script, so a script without an
    ``if __name__ == "__main__"`` guard would run again inside it (a second ingest, a second
    generator run). The workers need only resolver's own modules, so for the moment they start
    ``__main__`` carries the module name that multiprocessing skips (spawn._fixup_main_from_name).
    """
    main = sys.modules["__main__"]
    saved = getattr(main, "__spec__", None)
    main.__spec__ = ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = saved


class ParallelMap:
    """Computes ``function(value)`` for many distinct values on this process and worker processes together.

    Workers are spawned fresh (never forked: pyarrow's threads are running by then), so ``function``
    must be a module-level function of an importable module, not of the main script. Lists shorter
    than ``min_values`` (default PARALLEL_MIN_VALUES) stay in-process. Use as a context manager, or
    call ``close()``.
    """

    def __init__(self, workers: int = 1, min_values: int | None = None, chunk: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"ParallelMap needs at least one worker process, got workers={workers}")
        self.min_values = PARALLEL_MIN_VALUES if min_values is None else min_values
        self.chunk = PARALLEL_CHUNK if chunk is None else chunk
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        with _main_script_not_rerun():
            # The executor spawns a worker per submit until it has them all.
            self._starting = [self._executor.submit(_apply_all, len, []) for _ in range(workers)]

    def warm_up(self, function: Callable[[Any], Any], value: Any) -> None:
        """Let the workers import and build what ``function`` needs while this process does other work."""
        if self._executor is not None:
            self._starting.append(self._executor.submit(_apply_all, function, [value]))

    def _ready(self) -> bool:
        """Whether the workers are up and warmed: work sent earlier would only wait for their imports."""
        if self._executor is None or not all(future.done() for future in self._starting):
            return False
        if any(future.exception() is not None for future in self._starting):
            self.close()  # a worker that cannot start or import is not used at all
            return False
        return True

    def _send(self, function: Callable[[Any], Any], chunk: list[Any]) -> Future | None:
        """Queue a chunk for the workers; None (and no more workers) if the pool has broken meanwhile."""
        try:
            return self._executor.submit(_apply_all, function, chunk)
        except BrokenProcessPool:
            self.close()
            return None

    def map(self, function: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
        """``[function(v) for v in values]``, the work shared with the workers above ``min_values``."""
        values = list(values)
        if len(values) < self.min_values or not self._ready():
            return _apply_all(function, values)
        chunks = [values[start:start + self.chunk] for start in range(0, len(values), self.chunk)]
        results: list[list[Any] | None] = [None] * len(chunks)
        # The workers take chunks from the front, this process from the back, until they meet. Each worker
        # has at most two chunks queued, so neither side waits long for the other. (Queued work is never
        # cancelled: a pool that breaks with cancelled futures can hang in Python 3.11.)
        sent: deque[tuple[int, Future]] = deque()
        front, back = 0, len(chunks)
        # The executor's threads that pickle chunks for the workers and unpickle their answers need the GIL
        # while this thread computes; at the default 5 ms switch interval the workers sit idle about half
        # the time, at 1 ms they rarely do.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, _FEEDING_SWITCH_INTERVAL))
        try:
            while front < back:
                while sent and sent[0][1].done():
                    index, future = sent.popleft()
                    results[index] = self._result(future, function, chunks[index])
                while self._executor is not None and front < back and len(sent) < 2 * self.workers:
                    future = self._send(function, chunks[front])
                    if future is not None:
                        sent.append((front, future))
                        front += 1
                if front < back:
                    back -= 1
                    results[back] = _apply_all(function, chunks[back])
            for index, future in sent:
                results[index] = self._result(future, function, chunks[index])
        finally:
            sys.setswitchinterval(switch_interval)
        return [result for part in results for result in part]

    def _result(self, future: Future, function: Callable[[Any], Any], chunk: list[Any]) -> list[Any]:
        """A worker's answer; if the worker died (killed for memory, say), compute here and stop using it."""
        try:
            return future.result()
        except BrokenProcessPool:
            self.close()
            return _apply_all(function, chunk)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> ParallelMap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def distinct_results(
    uniques: Sequence[Any],
    function: Callable[[Any], Any],
    cache: dict[Any, Any] | None = None,
    parallel: ParallelMap | None = None,
) -> list[Any]:
    """``function(value)`` for each distinct value, reusing and filling ``cache`` (keyed by the value itself).

    One cache per standardiser: values that compare equal (``1`` and ``1.0``) share an entry, as they
    already share a ``pd.factorize`` code, so caches are meant for text cells.
    """
    compute = parallel.map if parallel is not None else _apply_all
    if cache is None:
        return compute(function, uniques)
    results = [cache.get(value, _NOT_CACHED) for value in uniques]
    new = [value for value, result in zip(uniques, results) if result is _NOT_CACHED]
    if new:
        computed = compute(function, new)
        cache.update(zip(new, computed))
        results = [cache[value] if result is _NOT_CACHED else result for value, result in zip(uniques, results)]
    return results


def _positions(codes: np.ndarray, null_slot: int) -> np.ndarray:
    """factorize codes with nulls (-1) pointed at the slot holding function(None)."""
    return np.where(codes < 0, null_slot, codes)


def map_unique(
    values: pd.Series,
    function: Callable[[Any], Any],
    cache: dict[Any, Any] | None = None,
    parallel: ParallelMap | None = None,
) -> pd.Series:
    """``values.map(function)`` computed once per distinct value (nulls passed through as None)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = distinct_results(uniques, function, cache, parallel)
    mapped = pd.Series([*results, function(None)], dtype=object).to_numpy()
    return pd.Series(mapped[_positions(codes, len(results))], index=values.index, dtype=object)


def map_unique_records(
    values: pd.Series,
    function: Callable[[Any], tuple],
    columns: list[str],
    cache: dict[Any, Any] | None = None,
    parallel: ParallelMap | None = None,
) -> pd.DataFrame:
    """Like map_unique for a function returning a tuple: one output column per tuple field."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = distinct_results(uniques, function, cache, parallel)
    results.append(function(None))
    table = pd.DataFrame.from_records(results, columns=columns)
    positions = _positions(codes, len(results) - 1)
    out = table.iloc[positions].reset_index(drop=True)
    out.index = values.index
    return out


def _stripped_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def clean_text(values: pd.Series) -> pd.Series:
    """Delivered cells as trimmed text, None for empty or missing — computed once per distinct value."""
    return map_unique(values, _stripped_or_none)


def clean_text_within(values: pd.Series, max_length: int) -> tuple[pd.Series, pd.Series]:
    """(clean_text of the cells with those longer than ``max_length`` characters as None, which rows they were).

    Lengths are taken once per distinct value, so the check costs little beside the trimming itself.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = [_stripped_or_none(value) for value in uniques]
    too_long = np.fromiter((text is not None and len(text) > max_length for text in cleaned), bool, len(cleaned))
    if too_long.any():
        cleaned = [None if long else text for text, long in zip(cleaned, too_long)]
    mapped = np.array([*cleaned, None], dtype=object)
    positions = _positions(codes, len(cleaned))
    rows = np.append(too_long, False)[positions]
    return (pd.Series(mapped[positions], index=values.index, dtype=object),
            pd.Series(rows, index=values.index, dtype=bool))


@dataclass(frozen=True)
class ValueOrError:
    """A scalar standardiser that raises ValueError, turned into one returning (value, error text).

    A class rather than a closure so that it pickles for the spawn worker.
    """

    function: Callable[[Any], Any]
    failed: Any = None

    def __call__(self, value: Any) -> tuple[Any, str | None]:
        try:
            return self.function(value), None
        except ValueError as error:
            return self.failed, str(error)


def map_unique_checked(
    values: pd.Series, function: Callable[[Any], Any], cache: dict[Any, Any] | None = None, failed: Any = None
) -> tuple[pd.Series, pd.Series]:
    """(standardised values, error text or None) per row, computed once per distinct value."""
    table = map_unique_records(values, ValueOrError(function, failed), ["value", "error"], cache)
    return table["value"], table["error"].astype(object)
