"""File access shared by the corpus reader, the scorer and the submission tools.

Two jobs: read files uniformly from a folder or a zip (users pass either), and write
outputs atomically so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from core.errors import HarnessError, first_line


def _umask() -> int:
    """The process's umask (read by setting it, then putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _cannot_write(folder: Path, err: OSError) -> HarnessError:
    """One line for an output folder the harness cannot write (a read-only place, a
    file where a folder belongs, ``/proc``): the tracebacks of mkdir and mkstemp
    otherwise reach the user."""
    return HarnessError(f"{folder}: cannot write here ({err.strerror or first_line(err)})")


def _temporary_file(path: Path) -> tuple[int, str]:
    """``mkstemp`` beside ``path``, its folder made first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _cannot_write(path.parent, err) from None


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename;
    the file gets the permissions the umask gives (mkstemp's are private)."""
    path = Path(path)
    fd, tmp = _temporary_file(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically; newlines are written exactly as given."""
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write to; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    fd, tmp = _temporary_file(path)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: what the temporary folders of :func:`atomic_directory` are called, after the target's
#: name: ``.NAME.harness-partial-XXXX`` (being built, or left by a killed command) and
#: ``.NAME.harness-replaced-XXXX`` (an old folder on its way out)
PARTIAL_TAG = "harness-partial"
REPLACED_TAG = "harness-replaced"
LOCK_SUFFIX = "harness-lock"


def leftovers(path: Path) -> list[Path]:
    """Temporary folders of killed commands that wrote ``path``: safe to delete while
    ``path``'s lock is held, since no live command owns them then."""
    return sorted(
        p
        for tag in (PARTIAL_TAG, REPLACED_TAG)
        for p in path.parent.glob(f".{glob_escape(path.name)}.{tag}-*")
        if p.is_dir() or p.is_symlink()
    )


def _remove(path: Path) -> None:
    """Delete a leftover: a folder, or a link that took a folder's place in a swap."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters made literal."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


@contextmanager
def folder_lock(path: Path, wait: bool = False) -> Iterator[None]:
    """Hold ``.NAME.harness-lock`` beside ``path`` for the block: a second command
    writing the same folder stops with one line instead of racing the first (or, with
    ``wait``, waits its turn: for caches, which any command may fill). The lock dies with
    its process, so a killed command never leaves it held."""
    import fcntl

    lock = path.parent / f".{path.name}.{LOCK_SUFFIX}"
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        except OSError as err:
            raise _cannot_write(path.parent, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise HarnessError(
                f"{path}: another harness command is writing this folder now (lock {lock})"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file its last holder unlinked while we waited to open it
            break
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False
    where the system or the file system cannot."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def _put_in_place(work: Path, path: Path) -> None:
    """Move the finished ``work`` folder to ``path``. An existing ``path`` is swapped
    with it in one step where the system can, so a kill at any moment leaves the old
    folder or the new one whole at ``path``; elsewhere the old one is first renamed to a
    ``harness-replaced`` name (then a kill between the two renames leaves it there)."""
    try:
        if not path.exists() and not path.is_symlink():
            os.rename(work, path)  # fails if a folder with files appeared meanwhile
            return
        if _exchange(work, path):
            _remove(work)  # now the old folder
            return
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.{REPLACED_TAG}-", dir=path.parent))
        os.rename(path, old / "old")
        os.rename(work, path)
        _remove(old)
    except OSError as err:
        raise HarnessError(
            f"{path}: cannot put the new folder in place ({err.strerror or first_line(err)}); "
            f"it is kept as {work}"
        ) from None


@contextmanager
def atomic_directory(
    path: str | os.PathLike[str], check: Callable[[], None] | None = None, wait: bool = False
) -> Iterator[Path]:
    """Yield a new folder beside ``path`` to fill; it replaces ``path`` (and whatever was
    there) only if the block succeeds, so a failed or interrupted build leaves nothing
    that looks complete. While the block runs ``path`` is locked against other commands;
    leftovers of killed earlier builds of ``path`` are removed first.

    ``check`` (the command's rule for what it may replace) runs under the lock, before
    the build and again just before the new folder is put in place: a folder that
    appeared meanwhile, or a second command that wrote ``path`` first, is seen there.
    ``wait``: wait for another command's lock instead of stopping (caches).
    """
    path = Path(os.path.abspath(path))  # "." cannot be renamed; its absolute name can
    if path.is_symlink():
        raise HarnessError(f"{path}: is a symbolic link; give the folder itself")
    if path.exists() and not path.is_dir():
        raise HarnessError(f"{path}: exists and is not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _cannot_write(path.parent, err) from None
    with folder_lock(path, wait):
        if check is not None:
            check()
        for leftover in leftovers(path):
            _remove(leftover)
        try:
            work = Path(tempfile.mkdtemp(prefix=f".{path.name}.{PARTIAL_TAG}-", dir=path.parent))
        except OSError as err:
            raise _cannot_write(path.parent, err) from None
        work.chmod(0o777 & ~_umask())  # mkdtemp's folders are private
        try:
            yield work
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        if check is not None:
            try:
                check()
            except HarnessError as err:  # the finished work is not thrown away
                kept = Path(tempfile.mkdtemp(prefix=f"{path.name}.harness-kept-", dir=path.parent))
                os.replace(work, kept)
                raise HarnessError(f"{err}; the new output is kept in {kept}") from None
        _put_in_place(work, path)


def read_json_object(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """A JSON file that must hold an object (``what`` names it in errors: "config file").

    Missing, undecodable or non-object files stop with one line naming the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such {what}") from None
    except RecursionError:
        raise HarnessError(f"{path}: not valid JSON (nested too deeply)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise HarnessError(f"{path}: not valid JSON ({err})") from None
    except OSError as err:
        raise HarnessError(f"{path}: cannot read {what} ({err.strerror})") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object")
    return data


def read_file(path: Path, where: str | None = None) -> bytes:
    """A file's bytes, or one line naming it when it cannot be read (permission denied,
    a folder where a file belongs, a vanished file)."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise HarnessError(
            f"{where or path}: cannot read ({err.strerror or first_line(err)})"
        ) from None


def decode_utf8(data: bytes, where: str) -> str:
    """Decode strictly, naming the file and byte offset when it is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HarnessError(f"{where}: not valid UTF-8 (byte {err.start})") from None


#: The one message for anything named or found as a zip that cannot be opened as one.
NOT_A_ZIP = "not a zip file"


def is_zip_path(path: str | os.PathLike[str]) -> bool:
    """True for a file to be opened as a zip: any file named ``*.zip``, or a zip by content.

    The name decides first so that a ``*.zip`` that is not a zip (a renamed text file,
    an empty or truncated download) fails with "not a zip file" from :func:`open_zip`
    instead of being read as text and reported as something vaguer ("no submission
    found", "neither a folder nor a zip file"). A real zip under another name still
    counts, because users pass the corpus under whatever name they saved it.
    """
    path = Path(path)
    return path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path))


#: how much a zip may expand to in all, in MiB; a zip bomb of a megabyte expands to
#: gigabytes, and members are read whole (a corpus of 8,000 tweets unzips to 2 MiB)
MAX_UNZIPPED_MIB = 2048
#: the highest compression ratio accepted for a member of over 1 MiB: text compresses
#: ten- or twentyfold, a zip bomb a thousandfold
MAX_ZIP_RATIO = 200
#: environment variables that raise the two limits (``harness --max-unzipped-mib`` and
#: ``--max-zip-ratio`` set them) for genuine huge corpora
UNZIPPED_VARIABLE = "HARNESS_MAX_UNZIPPED_MIB"
RATIO_VARIABLE = "HARNESS_MAX_ZIP_RATIO"


def _limit(variable: str, default: float) -> float:
    raw = os.environ.get(variable, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise HarnessError(f"{variable}={raw!r}: expected a positive number")
    return value


def check_zip_size(archive: zipfile.ZipFile, where: str) -> None:
    """Refuse a zip whose members, as its directory declares them, would expand beyond
    the limits; the declared sizes bound what reading a member returns, so a header that
    lies cannot get past this either."""
    budget = _limit(UNZIPPED_VARIABLE, MAX_UNZIPPED_MIB) * (1 << 20)
    ratio = _limit(RATIO_VARIABLE, MAX_ZIP_RATIO)
    total = packed = 0
    for info in archive.infolist():
        total += info.file_size
        packed += info.compress_size
        expansion = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 20 and expansion > ratio:
            raise HarnessError(
                f"{where}:{info.filename}: expands {expansion:.0f}-fold (limit {ratio:g}; "
                f"a zip bomb?); raise it with {RATIO_VARIABLE} or harness --max-zip-ratio"
            )
        if total > budget:
            raise HarnessError(
                f"{where}: expands to over {budget / (1 << 20):g} MiB; raise the limit with "
                f"{UNZIPPED_VARIABLE} or harness --max-unzipped-mib"
            )
    # a bomb cut into many small members passes the check of each member
    if total > 1 << 20 and total > ratio * max(packed, 1):
        raise HarnessError(
            f"{where}: expands {total / max(packed, 1):.0f}-fold in all (limit {ratio:g}; "
            f"a zip bomb?); raise it with {RATIO_VARIABLE} or harness --max-zip-ratio"
        )


def open_zip(source: str | os.PathLike[str] | IO[bytes], where: str) -> zipfile.ZipFile:
    """Open a zip for reading, or stop with one line ``WHERE: not a zip file``; a zip
    beyond the size limits stops here too (:func:`check_zip_size`).

    Every reader that accepts a zip (corpus, gold, submissions, zips inside a
    submission folder) opens it here, so they all say the same thing about a bad one.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, EOFError):
        raise HarnessError(f"{where}: {NOT_A_ZIP}") from None
    except OSError as err:
        raise HarnessError(f"{where}: cannot read ({err.strerror or first_line(err)})") from None
    try:
        check_zip_size(archive, where)
    except HarnessError:
        archive.close()
        raise
    return archive


def read_zip_member(archive: zipfile.ZipFile, name: str, where: str) -> bytes:
    """A member's bytes, or one line naming it when the zip is damaged inside (a bad
    CRC or a cut-off compressed stream passes the opening but fails here), encrypted, or
    compressed by a method Python cannot read."""
    try:
        return archive.read(name)
    except NotImplementedError as err:  # a RuntimeError too, so caught first
        raise HarnessError(f"{where}: unsupported zip member ({first_line(err)})") from None
    except RuntimeError as err:  # zipfile's word for an encrypted member
        raise HarnessError(f"{where}: cannot read zip member ({first_line(err)})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise HarnessError(f"{where}: damaged zip member ({first_line(err)})") from None


def _unlistable(err: OSError) -> None:
    """``os.walk``'s errors would otherwise drop an unreadable subfolder in silence."""
    raise HarnessError(f"{err.filename}: cannot list this folder ({err.strerror})")


class Bundle:
    """A read-only view of a folder or a zip file: relative POSIX names to bytes.

    Lets every reader accept "a folder or a zip" without two code paths. A folder's
    symbolic links are followed only while they stay inside it: a corpus or a
    submission folder holding a link to ``~/.ssh/id_rsa`` must not hand that file to a
    reader (which may quote its first line in a warning, or pack it into ``brat.zip``).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.exists():
            raise HarnessError(f"{self.path}: no such file or folder")
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            self._names = self._folder_names()
        elif is_zip_path(self.path):
            self._zip = open_zip(self.path, str(self.path))
            self._names = sorted(i.filename for i in self._zip.infolist() if not i.is_dir())
        else:
            raise HarnessError(f"{self.path}: neither a folder nor a zip file")
        self._name_set = set(self._names)

    def _folder_names(self) -> list[str]:
        """The folder's files, as ``rglob`` listed them (files and links to files;
        linked folders are not entered), refusing a link whose target lies outside."""
        from core.display import shown

        inside = self.path.resolve()
        names = []
        for folder, _subfolders, files in os.walk(self.path, onerror=_unlistable):
            for file in files:
                path = Path(folder) / file
                if not path.is_file():
                    continue  # a broken link, a socket: nothing to read, as before
                name = path.relative_to(self.path).as_posix()
                if path.is_symlink():
                    target = path.resolve()
                    if not target.is_relative_to(inside):
                        raise HarnessError(
                            f"{self.where(name)}: a symbolic link out of {self.path} (to "
                            f"{shown(str(target))}); refused, links must stay inside the folder"
                        )
                names.append(name)
        return sorted(names)

    @property
    def is_zip(self) -> bool:
        return self._zip is not None

    def names(self) -> list[str]:
        """All file names, relative to the bundle root, with ``/`` separators."""
        return list(self._names)

    def where(self, name: str) -> str:
        """A human-readable location of a member for error messages; a name holding a
        control or invisible character is shown escaped (:func:`core.display.shown`),
        so it can neither break the message's line nor drive the terminal."""
        from core.display import shown

        if name.isprintable():
            return f"{self.path}:{name}" if self._zip is not None else str(self.path / name)
        return f"{self.path}{':' if self._zip is not None else '/'}{shown(name)}"

    def exists(self, name: str) -> bool:
        return name in self._name_set

    def read_bytes(self, name: str) -> bytes:
        if not self.exists(name):
            raise HarnessError(f"{self.where(name)}: no such file")
        if self._zip is not None:
            return read_zip_member(self._zip, name, self.where(name))
        return read_file(self.path / name, self.where(name))

    def read_text(self, name: str, *, strip_bom: bool = False) -> str:
        """Read a member as UTF-8; ``strip_bom`` drops a leading byte-order mark (TSVs)."""
        text = decode_utf8(self.read_bytes(name), self.where(name))
        if strip_bom and text.startswith("\ufeff"):
            text = text[1:]
        return text

    def children(self, folder: str) -> list[str]:
        """File names directly inside ``folder`` (relative to the bundle root)."""
        prefix = folder.rstrip("/") + "/" if folder else ""
        return [n for n in self._names if n.startswith(prefix) and "/" not in n[len(prefix) :]]

    def subfolders(self, folder: str) -> list[str]:
        """Names of the folders directly inside ``folder``."""
        prefix = folder.rstrip("/") + "/" if folder else ""
        found = set()
        for n in self._names:
            if n.startswith(prefix):
                rest = n[len(prefix) :]
                if "/" in rest:
                    found.add(rest.split("/", 1)[0])
        return sorted(found)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stem(name: str) -> str:
    """The file name without folder and extension (``a/b/123.txt`` -> ``123``)."""
    return PurePosixPath(name).stem
