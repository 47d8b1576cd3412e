"""The filings a batch verifies: each FILING argument is a package folder (it holds a report
file) or a folder whose sub-folders are packages. A sub-folder that is not a readable package
is still a filing (verifying it reports it `unreadable` with the reason), so that a regulator's
folder with one broken submission shows that submission instead of hiding it.

Each filing gets a name, its output folder under DIR/filings: the folder's name; names that
collide get the parent folder's name in front (`parent-name`), then `-2`, `-3`, ... in order.
Names are made safe as folder names (no separator, no leading dot, printable, bounded length)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from verifier.errors import InputError
from verifier.submission import REPORT_NAMES

MAX_NAME = 100  # characters: a folder name well below every file system's 255-byte limit


@dataclass(frozen=True)
class Filing:
    name: str   # its folder under DIR/filings
    path: Path  # the package folder, as the user named it (a FILING, or FILING/sub-folder)


def discover(args: list[Path | str]) -> list[Filing]:
    """The filings the FILING arguments name, in argument order (a folder's sub-folders in name
    order; a package named twice counts once). InputError (exit 2) when an argument does not
    exist or is neither a package nor holds sub-folders, and when there are no filings at all."""
    paths: list[Path] = []
    seen: set[Path] = set()
    for arg in args:
        for path in _packages(Path(arg)):
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                paths.append(path)
    if not paths:
        raise InputError("command line", "FILING", "no filings given: name package folders or folders of them")
    return [Filing(name, path) for name, path in zip(unique_names(paths), paths)]


def is_package(folder: Path) -> bool:
    """A folder holding a report file (its readability is verify's to judge)."""
    return any(os.path.lexists(folder / name) for name in REPORT_NAMES)


def _packages(arg: Path) -> list[Path]:
    if not arg.exists():
        raise InputError(arg, None, "not found (FILING: a package folder or a folder of them)")
    if not arg.is_dir():
        raise InputError(arg, None, "not a folder (FILING: a package folder or a folder of them)")
    if is_package(arg):
        return [arg]
    try:
        subs = sorted(p for p in arg.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise InputError(arg, None, f"cannot read the folder: {exc.strerror or exc}") from None
    if not subs:
        raise InputError(arg, None, "neither a package (no report.yaml or report.json) nor a folder of packages")
    return subs


def unique_names(paths: list[Path]) -> list[str]:
    """One safe, distinct name per path: the folder name; where several share it, the parent's
    name in front; where that still collides, `-2`, `-3`, ... (the first keeps its name)."""
    plain = [safe_name(p.name) for p in paths]
    counts: dict[str, int] = {}
    for n in plain:
        counts[n] = counts.get(n, 0) + 1
    names = [safe_name(f"{p.resolve().parent.name}-{p.name}") if counts[n] > 1 else n
             for n, p in zip(plain, paths)]
    taken: set[str] = set()
    out = []
    for n in names:
        name, i = n, 1
        while name.lower() in taken:  # case-insensitive file systems: opA and opa are one folder
            i += 1
            name = f"{n}-{i}"
        taken.add(name.lower())
        out.append(name)
    return out


_UNSAFE = re.compile(r"[\\/:*?\"<>|\s]")


def safe_name(name: str) -> str:
    """`name` usable as one folder name on any system: separators, reserved and unseen
    characters become '_', no leading dot, at most MAX_NAME characters, never empty."""
    text = "".join(ch if ch.isprintable() else "_" for ch in name)
    text = _UNSAFE.sub("_", text).lstrip(".")[:MAX_NAME]
    return text or "filing"

