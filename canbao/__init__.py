"""canbao command line.

Importing the package settles the process's memory behaviour before NumPy loads (the `canbao`
command, `canbao serve` and the benchmarks import it first). Measured in bench/README.md.
"""
import ctypes
import os
import sys

# NumPy advises the kernel to back large arrays with transparent huge pages. Where the kernel's
# THP defrag policy is "madvise" (as on these machines) each such allocation may first compact
# memory: ingesting 100k persons spent 1.5-2.2 s in the kernel with the advice and 0.5 s without.
# An explicit setting in the environment wins; NumPy reads it at import.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


def _reuse_freed_memory() -> None:
    """Let glibc keep freed blocks for the next array instead of unmapping and faulting them again.

    A city's frames allocate and free tens of gigabytes of columns; with glibc's defaults every
    column above its mmap threshold is unmapped on free and page-faulted anew. Raising the
    thresholds cut ingesting 1M persons from 59 s to 47 s (kernel time 16 s to 11 s) at the same
    peak memory. No-op where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    trim_threshold, mmap_threshold = -1, -3          # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD (malloc.h)
    mallopt(trim_threshold, 1 << 30)
    mallopt(mmap_threshold, 32 << 20)                # glibc's upper limit on 64-bit systems


_reuse_freed_memory()
