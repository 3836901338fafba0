"""canbao command line.

Importing the package settles the process's memory behaviour before NumPy loads (the `canbao`
command, `canbao serve` and the benchmarks import it first). Measured in bench/README.md.
"""
import os

# NumPy advises the kernel to back large arrays with transparent huge pages. Where the kernel's
# THP defrag policy is "madvise" (as on these machines) each such allocation may first compact
# memory: ingesting 100k persons spent 1.5-2.2 s in the kernel with the advice and 0.5 s without.
# An explicit setting in the environment wins; NumPy reads it at import.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

from resolver.memory import reuse_freed_memory  # noqa: E402  (after the setting above)

reuse_freed_memory()
