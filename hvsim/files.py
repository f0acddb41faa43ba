"""Output folders and the files in them: hvsim never deletes or overwrites a file
it did not write, and writes each file whole.

Every command that writes a folder (run, run --replications, sweep, compare,
scan-table, and any later writer) goes through :class:`OutputFolder`:

- The target is checked before any work: a file, a symbolic link, a folder under a
  missing parent (for an explicit ``--out``), a name too long for the file system,
  or a folder hvsim did not write are refused with one line (exit 2). The current
  folder, a folder above it, the home folder and ``/`` are refused even with
  ``--force``.
- A folder hvsim writes carries a manifest, ``.hvsim-output.json``: the command,
  hvsim's version and the files it wrote. hvsim replaces a folder only when the
  manifest is there and the folder holds nothing the manifest does not list, other
  than hvsim's own store of finished runs (``runs/``), its lock and its temporary
  files. ``--force`` replaces any other folder (never the vital ones above).
- Replacing the outputs an earlier command published there (its manifest lists
  files) is said in one line on stderr when the folder is claimed.
- The outputs are written into a fresh temporary folder beside the target, then
  swapped in: the old folder is renamed aside, the new one renamed in, then the old
  one removed. ``runs/`` moves from the old folder into the new one.
- While a command works on a folder it holds a lock on ``.hvsim.lock`` in it
  (``flock``, not waiting): a second hvsim writing the same folder is refused at
  once, naming the folder.
- Folders and files get the user's normal permissions (``0o777 & ~umask``, files
  ``0o666 & ~umask``), not the 0700/0600 of ``tempfile``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MANIFEST = ".hvsim-output.json"
LOCK = ".hvsim.lock"
STORE = "runs"
TMP_PREFIX = ".hvsim-tmp-"
# POSIX file systems (ext4, xfs, btrfs, tmpfs, APFS, NTFS) allow 255 bytes a name.
NAME_MAX_BYTES = 255

_UMASK_LOCK = threading.Lock()


class OutputError(Exception):
    """An output folder hvsim may not or cannot write: one line for people (exit 2)."""


def umask() -> int:
    """The process's umask: from /proc on Linux, else by setting it and putting it
    back (under a lock, for the threads of this module)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def folder_mode() -> int:
    return 0o777 & ~umask()


def file_mode() -> int:
    return 0o666 & ~umask()


def name_max(folder: Path) -> int:
    """The longest file name (bytes) in ``folder``'s file system, at most 255."""
    probe = Path(folder).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return min(NAME_MAX_BYTES, int(os.pathconf(probe, "PC_NAME_MAX")))
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or unknown
        return NAME_MAX_BYTES


def fit_name(name: str, limit_bytes: int = NAME_MAX_BYTES) -> str:
    """``name`` as a file name of at most ``limit_bytes``: kept whole when it fits,
    else its beginning and a short hash of the whole (the same name always gives the
    same folder, two long names sharing a beginning give two folders)."""
    raw = name.encode("utf-8")
    if len(raw) <= limit_bytes:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:10]
    head = raw[: max(1, limit_bytes - len(digest) - 1)].decode("utf-8", errors="ignore")
    return f"{head.rstrip('-. ')}-{digest}"


def default_folder(name: str, root: str | Path = "reports") -> Path:
    """``reports/<name>``, the name fitted to the file system's limit."""
    root = Path(root)
    return root / fit_name(name, name_max(root))


def _short(name: str) -> str:
    """A target's name shortened for the temporary names beside it."""
    return fit_name(name, 60)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole: a uniquely named temporary file in the same folder, then
    an atomic rename, so a reader sees the old file or the new one and two writers
    never share a temporary file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{_short(path.name)}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), file_mode())
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    """``path`` written whole: a uniquely named temporary file, then an atomic rename."""
    atomic_write(Path(path), text)


def table_csv(df: pd.DataFrame) -> str:
    """CSV text with fixed float and datetime formatting, identical in every process."""
    import pandas as pd  # here: the command line starts without pandas

    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.slice(0, 23)
    return out.to_csv(index=False, float_format="%.6f", lineterminator="\n")


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """``path`` as CSV (:func:`table_csv`), written whole."""
    write_text(path, table_csv(table))


def write_table(table: pd.DataFrame, folder: Path, stem: str) -> None:
    """``stem``.parquet and ``stem``.csv, each written whole (unique temporary name,
    atomic rename)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / f"{stem}.parquet", table.to_parquet(index=False))
    write_csv(folder / f"{stem}.csv", table)


# --- the manifest --------------------------------------------------------------------


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest if it is one hvsim wrote, else None."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("written_by") != "hvsim"
        or not isinstance(data.get("files"), list)
        or not all(isinstance(f, str) for f in data["files"])
    ):
        return None
    return data


def manifest_text(command: str, files: Sequence[str]) -> str:
    from hvsim.version import installed_version

    return (
        json.dumps(
            {
                "written_by": "hvsim",
                "version": installed_version(),
                "command": command,
                "files": list(files),
                "note": (
                    "hvsim replaces this folder only while it holds nothing but these "
                    "files, runs/ and its own temporary files"
                ),
            },
            indent=1,
        )
        + "\n"
    )


def _own(name: str) -> bool:
    return name in (MANIFEST, LOCK) or name.startswith(TMP_PREFIX)


def foreign_entries(folder: Path) -> list[str]:
    """Names in ``folder`` that hvsim did not write: everything when it has no
    manifest; otherwise what the manifest does not list, other than runs/ (a
    folder), the lock and temporary files."""
    manifest = read_manifest(folder)
    listed = set(manifest["files"]) if manifest else set()
    foreign = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if _own(name):
                continue
            if manifest is not None:
                if name == STORE and entry.is_dir(follow_symlinks=False):
                    continue
                if name in listed and not entry.is_symlink():
                    continue
            foreign.append(name)
    return sorted(foreign)


def _names(names: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


# --- locks ---------------------------------------------------------------------------


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


# --- the folder ----------------------------------------------------------------------


class OutputFolder:
    """One command's output folder: checked on creation, claimed (created if need be,
    locked) on ``with``, filled through :meth:`staging` and :meth:`publish`.

    ``path`` is the folder as the user gave it (``--out``) or the default;
    ``explicit`` says which (an explicit folder's parent must exist, the default's
    ``reports/`` is created). Raises :class:`OutputError` with one line."""

    def __init__(
        self, path: str | Path, command: str, *, force: bool = False, explicit: bool = True
    ):
        self.given = Path(path)
        self.command = command
        self.force = force
        self.explicit = explicit
        self.label = f"--out {path}" if explicit else str(path)
        self.published = False
        self._fd: int | None = None
        self._created: list[Path] = []  # undone in this order when nothing is published
        self._kept: set[Path] = set()
        # The command whose published outputs the folder holds (its manifest).
        self.previous: str | None = None
        try:
            self.path = self._check()
        except OSError as exc:
            raise self._os_error(exc) from None

    # -- checks ---------------------------------------------------------------------

    def _error(self, what: str) -> OutputError:
        return OutputError(f"{self.label}: {what}")

    def _os_error(self, exc: OSError) -> OutputError:
        where = f" ({exc.filename})" if exc.filename else ""
        reason = exc.strerror or exc.__class__.__name__
        return self._error(f"cannot write the outputs: {reason}{where}")

    def _check(self) -> Path:
        given = self.given
        if given.is_symlink():
            return self._refuse(
                f"is a symbolic link (to {os.readlink(given)}); hvsim writes a folder of "
                "its own: give the real folder"
            )
        target = given.resolve()
        self._refuse_vital(target)
        if target.exists() and not target.is_dir():
            return self._refuse("is a file, not a folder: give a folder")
        parent = target.parent
        if not parent.exists():
            if self.explicit:
                return self._refuse(f"the folder it goes in does not exist ({parent})")
            writable = parent.parent
            if not writable.is_dir():
                return self._refuse(f"the folder it goes in does not exist ({writable})")
        elif not parent.is_dir():
            return self._refuse(f"{parent} is a file, not a folder")
        else:
            writable = parent
        if not os.access(writable, os.W_OK | os.X_OK):
            return self._refuse(f"cannot write in {writable} (permission denied)")
        limit = name_max(parent)
        if len(os.fsencode(target.name)) > limit:
            return self._refuse(
                f"the name is longer than the file system allows "
                f"({len(os.fsencode(target.name))} bytes, at most {limit})"
            )
        if target.is_dir():
            foreign = foreign_entries(target)
            if foreign and not self.force:
                why = (
                    "it holds files hvsim did not write"
                    if read_manifest(target)
                    else "it is a folder hvsim did not write"
                )
                return self._refuse(
                    f"not replaced: {why} ({_names(foreign)}); choose another --out, "
                    "or add --force to replace it"
                )
            if not os.access(target, os.W_OK | os.X_OK):
                return self._refuse(f"cannot write in {target} (permission denied)")
            manifest = read_manifest(target)
            if manifest is not None and manifest["files"]:
                self.previous = str(manifest.get("command") or "hvsim")
        return target

    def replacing_note(self) -> str | None:
        """The line saying that this command replaces the outputs an earlier hvsim
        command published in the folder (None for a new or never-published folder)."""
        if self.previous is None:
            return None
        kept = (
            " (its finished runs in runs/ are kept and reused where they match)"
            if self._store_has_runs()
            else ""
        )
        return f"{self.label}: replacing the outputs of an earlier '{self.previous}'{kept}"

    def _refuse(self, what: str) -> Path:
        raise self._error(what)

    def _refuse_vital(self, target: Path) -> None:
        cwd = Path.cwd().resolve()
        try:
            home: Path | None = Path.home().resolve()
        except (RuntimeError, KeyError, OSError):  # no home folder known
            home = None
        what = None
        if target == target.parent:
            what = "is the root folder"
        elif target == cwd:
            what = "is the current folder"
        elif cwd.is_relative_to(target):
            what = "holds the current folder"
        elif home is not None and target == home:
            what = "is the home folder"
        elif home is not None and home.is_relative_to(target):
            what = "holds the home folder"
        if what:
            raise self._error(
                f"{what} ({target}); hvsim writes its outputs into a folder of their own "
                "and never replaces this one, not even with --force"
            )

    # -- claim and release ----------------------------------------------------------

    def __enter__(self) -> OutputFolder:
        """Claim the folder; say on stderr when it replaces an earlier command's
        outputs (``replacing_note``)."""
        try:
            self._claim()
            if (note := self.replacing_note()) is not None:
                print(note, file=sys.stderr)
        except OSError as exc:
            self.close()
            raise self._os_error(exc) from None
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def store(self) -> Path:
        """The folder's store of finished runs (``runs/``), kept across commands."""
        return self.path / STORE

    def _claim(self) -> None:
        """Create the folder if need be (with a manifest, so an interrupted sweep's
        folder is hvsim's) and take its lock."""
        missing = []
        probe = self.path
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for folder in reversed(missing):
            folder.mkdir()  # mode 0o777 & ~umask
            self._created.insert(0, folder)
        if read_manifest(self.path) is None:
            atomic_write(self.path / MANIFEST, manifest_text(self.command, []))
            self._created.insert(0, self.path / MANIFEST)
        self._lock()

    def _lock(self) -> None:
        path = self.path / LOCK
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
                created = True
            except FileExistsError:
                fd = os.open(path, os.O_RDWR)
                created = False
            if not _try_lock(fd):
                os.close(fd)
                raise self._error(
                    f"another hvsim is writing this folder ({self.path}); wait for it to "
                    "finish, or choose another --out"
                )
            # The lock file may have gone (swapped away by the hvsim that held it)
            # between opening and locking it: lock the one that is there now.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                if created:
                    self._created.insert(0, path)
                return
            os.close(fd)

    def close(self) -> None:
        """Release the lock. If nothing was published, undo what the claim created
        (the lock file; the folder and manifest too unless the store holds finished
        runs, so that the same command resumes from them)."""
        if not self.published and self._store_has_runs():
            # Keep the folder and its manifest (the same command resumes from runs/);
            # the lock file goes.
            self._created = [p for p in self._created if p.name == LOCK]
        if not self.published:
            for path in self._created:
                with contextlib.suppress(OSError):
                    if path.is_dir() and not path.is_symlink():
                        if path == self.path:
                            with contextlib.suppress(OSError):
                                self.store.rmdir()  # an empty store a failed run left
                        path.rmdir()
                    else:
                        path.unlink()
        self._created = []
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _store_has_runs(self) -> bool:
        try:
            with os.scandir(self.store) as entries:
                return any(True for _ in entries)
        except OSError:
            return False

    # -- writing --------------------------------------------------------------------

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh temporary folder beside the target, with the user's permissions,
        to write the outputs into; removed if it is not published. An OSError while
        writing becomes an OutputError."""
        try:
            tmp = Path(
                tempfile.mkdtemp(
                    prefix=f"{TMP_PREFIX}{_short(self.path.name)}-", dir=self.path.parent
                )
            )
            os.chmod(tmp, folder_mode())
        except OSError as exc:
            raise self._os_error(exc) from None
        try:
            yield tmp
        except OSError as exc:
            raise self._os_error(exc) from None
        finally:
            if tmp.exists() and tmp not in self._kept:
                shutil.rmtree(tmp, ignore_errors=True)

    def publish(self, staged: Path, files: Sequence[str]) -> None:
        """Swap ``staged`` (holding ``files``) in as the target: the old folder's
        ``runs/`` moves into it, the old folder is renamed aside, the new one in,
        and the old one is removed."""
        try:
            self._publish(staged, files)
        except OSError as exc:
            raise self._os_error(exc) from None

    def _publish(self, staged: Path, files: Sequence[str]) -> None:
        atomic_write(staged / MANIFEST, manifest_text(self.command, files))
        target = self.path
        if target.is_dir() and not self.force:
            # Checked before the work started; a file dropped in since is not ours.
            foreign = foreign_entries(target)
            if foreign:
                self._kept.add(staged)
                raise self._error(
                    f"not replaced: it now holds files hvsim did not write "
                    f"({_names(foreign)}); the new outputs are in {staged}"
                )
        old_store = target / STORE
        if old_store.is_dir() and not old_store.is_symlink():
            os.rename(old_store, staged / STORE)
        aside = None
        if target.exists():
            aside = target.with_name(
                f"{TMP_PREFIX}{_short(target.name)}-old-{secrets.token_hex(4)}"
            )
            os.rename(target, aside)
        try:
            os.rename(staged, target)
        except OSError:
            if aside is not None:  # put the old folder back as it was
                os.rename(aside, target)
                if (staged / STORE).is_dir():
                    os.rename(staged / STORE, target / STORE)
            raise
        self.published = True
        if aside is not None:
            self._remove_old(aside)

    def _remove_old(self, aside: Path) -> None:
        leftover = [] if self.force else foreign_entries(aside)
        if leftover:  # defence in depth: never remove a file hvsim did not write
            raise self._error(
                f"replaced, but the old folder held files hvsim did not write "
                f"({_names(leftover)}): kept in {aside}"
            )
        shutil.rmtree(aside)
