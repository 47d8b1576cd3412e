"""The output folder: checked before any work, written beside it, swapped in as a whole.

`check_out` refuses (exit 2, naming `--out`) an output folder that is a file, whose parent cannot
be written, that is, contains or lies inside the package or any other input (the tool's
`sample.csv` would otherwise overwrite a trip file of that name), or that already holds something
other than an earlier run's output (replacing it would delete the user's files).

`replace_dir` moves the finished temporary folder into place with one `renameat2(RENAME_EXCHANGE)`
(Linux >= 3.15; an atomic swap of two directories: at every instant `--out` is either the whole
old run or the whole new one), then deletes the old run, now at the temporary name. Where the
call or the file system lacks it, the old folder is renamed aside, the new one renamed in, and
the old one deleted: a crash between the two renames leaves no `--out` (the old run is beside it
under a `.NAME.old-` name), never a mix of two runs.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

from verifier.errors import InputError

RUN_MARKER = "findings.json"  # every run writes it: a folder holding it is an earlier run's output


def _bad(message: str) -> InputError:
    return InputError("command line", "--out", message)


def check_out(out: Path | str, inputs: dict[str, Path | str | None], marker: str = RUN_MARKER) -> Path:
    """The resolved output folder, or InputError (exit 2) before anything is read or written.
    `inputs` maps an option name (or "package") to its path; None for an option not given.
    `marker` is the file an earlier output holds (a batch's: batch.json)."""
    target = Path(out).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise _bad(f"{str(out)!r} exists and is not a folder")
    for name, path in inputs.items():
        if path is None:
            continue
        where = Path(path).expanduser().resolve()
        relation = ("is" if target == where else "lies inside" if target.is_relative_to(where)
                    else "contains" if where.is_relative_to(target) else None)
        if relation:
            raise _bad(f"{str(out)!r} {relation} the {name} {str(path)!r}: the output folder must lie apart "
                       "from every input (inputs are never modified)")
    if target.is_dir() and any(target.iterdir()) and not (target / marker).is_file():
        raise _bad(f"{str(out)!r} holds files that are not a verifier output; it would be replaced "
                   "as a whole: name a new or empty folder, or an earlier output folder")
    _probe(_existing_ancestor(target.parent))
    return target


def _probe(folder: Path) -> None:
    """Create and remove a folder in `folder`: the only test of writability that also holds
    for root, read-only mounts and pseudo file systems."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".verifier-probe-", dir=folder))
    except OSError as exc:
        raise _bad(f"cannot write into {str(folder)!r}: {exc.strerror or exc}") from None


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def temp_beside(out: Path) -> Path:
    """A new empty folder beside `out` (same file system, so the final rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))


def replace_dir(new: Path, out: Path) -> None:
    """Put the folder `new` at `out` in one step; the old `out`, if any, is deleted."""
    if not out.exists():
        os.rename(new, out)  # fails, changing nothing, if a folder appeared there meanwhile
        return
    if _exchange(new, out):
        shutil.rmtree(new)  # `new` now holds the old run
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, aside / "run")
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(aside / "run", out)
        raise
    finally:
        if out.exists():
            shutil.rmtree(aside, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # not glibc >= 2.28, or not Linux
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # kernel or file system lacks it
        return False
    raise OSError(err, os.strerror(err), str(b))
