"""A run (or the API's flush) lands in a store as one step: staged files, a manifest, then renames.

Everything a landing writes goes first under staged names beside its final place
(``records.parquet.landing-<token>``, ``state.landing-<token>/…``, ``runs/<run>.landing-<token>/…``),
and the graph writes a snapshot (embedded) or staged nodes (Neo4j) no reader sees. Then, under the
store's landing lock, ``LANDING.json`` is written atomically (temp file, fsync, os.replace): the
graph's switch and every move. That is the commit point. The graph switches, each file is moved
with os.replace, and the manifest is removed. Every opener of the store (StoreLayout.for_store)
first rolls a manifest it finds forward — each step is idempotent — so a crash at any moment
leaves the previous landing or the new one, everywhere. Staged files without a manifest are
leftovers: the next run deletes them.

    STORE/LANDING.json      a committed landing not yet fully applied (rolled forward on open)
    STORE/.landing.lock     exclusive while a landing commits or the API flushes; shared while reading
    STORE/.run.lock         held by the one `canbao run` writing the store
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resolver.errors import InputError

if TYPE_CHECKING:
    from resolver.pipeline import StoreLayout

LANDING_FILE = "LANDING.json"
LANDING_LOCK = ".landing.lock"
RUN_LOCK = ".run.lock"
STAGED_MARK = ".landing-"
MANIFEST_FORMAT = "canbao-landing/1"
# Moved last inside a staged folder: the API reloads the state when state.json changes, so it must be the
# last state file to change.
LAST_IN_FOLDER = ("state.json",)

Checkpoint = Callable[[str], None]


def _no_checkpoint(stage: str) -> None:
    """Recovery passes no crash points."""


@contextmanager
def _flock(path: Path, *, exclusive: bool, wait: bool) -> Iterator[bool]:
    """Hold a flock on ``path`` (created); yields False instead of waiting when ``wait`` is off and it is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def landing_lock(layout: StoreLayout, *, shared: bool = False) -> Iterator[None]:
    """The store's landing lock: exclusive to commit a landing, shared to read several files as one state.

    A shared request on a store folder that does not exist or that this user cannot write takes no lock.
    """
    if shared and not os.access(layout.work_dir, os.W_OK):
        yield   # a store not yet made, or one this user may only read (no landing of theirs to wait for)
        return
    with _flock(layout.work_dir / LANDING_LOCK, exclusive=not shared, wait=True):
        yield


@contextmanager
def run_lock(layout: StoreLayout) -> Iterator[None]:
    """One `canbao run` per store at a time; a second one is refused at once (not queued)."""
    from graph.errors import StoreBusy

    with _flock(layout.work_dir / RUN_LOCK, exclusive=True, wait=False) as taken:
        if not taken:
            raise StoreBusy(f"库 store {layout.work_dir}", "run",
                            "另一个 `canbao run` 正在写入此库 (another run is writing this store); 等它结束后重试 "
                            "(retry when it has finished)", retryable=True)
        yield


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` atomically: temp file, fsync, os.replace, fsync of the folder."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def _move_order(path: Path) -> tuple[bool, str]:
    return path.name in LAST_IN_FOLDER, path.name


@dataclass
class Landing:
    """What one landing stages: files and folders under staged names, moved into place by ``commit``."""

    layout: StoreLayout
    token: str
    files: list[tuple[Path, Path]] = field(default_factory=list)     # (staged file, final file)
    folders: list[tuple[Path, Path]] = field(default_factory=list)   # (staged folder, final folder): merged file by file

    def _staged_name(self, final: Path) -> Path:
        return final.with_name(f"{final.name}{STAGED_MARK}{self.token}")

    def stage(self, final: Path) -> Path:
        """Where to write the next content of file ``final``."""
        staged = self._staged_name(final)
        staged.parent.mkdir(parents=True, exist_ok=True)
        self.files.append((staged, final))
        return staged

    def stage_dir(self, final: Path) -> Path:
        """A new empty folder whose files replace those of folder ``final`` (other files of ``final`` stay)."""
        staged = self._staged_name(final)
        staged.mkdir(parents=True)
        self.folders.append((staged, final))
        return staged

    def manifest(self, graph: dict[str, Any] | None) -> dict[str, Any]:
        """The landing as JSON: the graph's switch and every move, paths relative to the store folder."""
        root = self.layout.work_dir
        moves = [(staged, final) for staged, final in self.files]
        for staged, final in self.folders:
            for item in sorted(staged.iterdir(), key=_move_order):
                if not item.is_file():
                    raise ValueError(f"{item}: a staged folder holds files only")
                moves.append((item, final / item.name))
        absent = [str(staged) for staged, _ in moves if not staged.is_file()]
        if absent:
            raise FileNotFoundError(f"staged files missing, nothing landed: {absent}")
        if graph is not None and "://" not in graph["store"] and Path(graph["store"]).is_relative_to(root):
            graph = {**graph, "store": _relative(Path(graph["store"]), root)}   # the store folder may be moved
        return {"format": MANIFEST_FORMAT, "token": self.token, "graph": graph,
                "moves": [[_relative(s, root), _relative(f, root)] for s, f in moves],
                "staged_folders": [_relative(staged, root) for staged, _ in self.folders]}

    def commit(self, graph: dict[str, Any] | None = None, *, locked: bool = False,
               checkpoint: Checkpoint = _no_checkpoint) -> None:
        """Make everything staged current in one step (``locked``: the caller holds the landing lock)."""
        manifest = self.manifest(graph)
        with nullcontext() if locked else landing_lock(self.layout):
            _write_durably(self.layout.work_dir / LANDING_FILE, json.dumps(manifest, ensure_ascii=False, indent=1))
            checkpoint("land")
            apply_manifest(self.layout, manifest, checkpoint)

    def discard(self) -> None:
        """Remove what was staged (a landing given up before its commit)."""
        for staged, _ in self.files:
            staged.unlink(missing_ok=True)
        for staged, _ in self.folders:
            shutil.rmtree(staged, ignore_errors=True)


def land_graph(root: Path, graph: dict[str, Any]) -> None:
    """Switch the graph to the staged run the manifest names (idempotent)."""
    from graph import open_store

    spec = graph["store"] if "://" in graph["store"] else str(root / graph["store"])
    with open_store(spec) as store:
        store.land_staged(graph)


def apply_manifest(layout: StoreLayout, manifest: dict[str, Any], checkpoint: Checkpoint = _no_checkpoint) -> None:
    """Perform a committed landing, or what is left of it: graph switch, moves, then the manifest goes."""
    root = layout.work_dir
    if manifest.get("graph"):
        land_graph(root, manifest["graph"])
        checkpoint("switch")
    touched: set[Path] = set()
    for staged, final in manifest["moves"]:
        source, target = root / staged, root / final
        if source.is_file():   # absent: moved before a crash
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            touched.add(target.parent)
    for folder in manifest["staged_folders"]:
        if (root / folder).is_dir():
            (root / folder).rmdir()
    for folder in sorted(touched):
        _fsync_dir(folder)
    checkpoint("moved")
    (root / LANDING_FILE).unlink()
    _fsync_dir(root)


def read_manifest(path: Path) -> dict[str, Any]:
    """A landing manifest (written atomically, so complete whenever it exists)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: 落库清单无法读取 (landing manifest unreadable: {error}); "
                         f"restore the store folder from a backup") from error
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path}: 不是 {MANIFEST_FORMAT} 落库清单 (not a landing manifest)")
    return manifest


def recover(layout: StoreLayout) -> bool:
    """Roll a committed but unfinished landing forward; True when there was one. Cheap when there is none."""
    path = layout.work_dir / LANDING_FILE
    if not path.is_file():
        return False
    with landing_lock(layout):
        if not path.is_file():   # the landing process finished it while we waited
            return False
        apply_manifest(layout, read_manifest(path))
    return True


def discard_leftovers(layout: StoreLayout) -> list[Path]:
    """Delete staged files no manifest names (a landing that crashed before its commit); returns them.

    Only a writer holding the run lock may call this: another run's staged files would be in flight otherwise.
    """
    removed = []
    with landing_lock(layout):
        if (layout.work_dir / LANDING_FILE).is_file():
            apply_manifest(layout, read_manifest(layout.work_dir / LANDING_FILE))
        for folder in (layout.work_dir, layout.state_dir, layout.runs_dir):
            for entry in sorted(folder.glob(f"*{STAGED_MARK}*")) if folder.is_dir() else ():
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed.append(entry)
        temporary = layout.work_dir / (LANDING_FILE + ".tmp")
        if temporary.exists():
            temporary.unlink()
            removed.append(temporary)
    return removed
