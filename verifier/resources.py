"""Where the bundled folders (templates, checklists, samples) are: in the wheel or the checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder ``name`` as installed inside the wheel, else the checkout's top-level one."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"verifier resource folder '{name}' not found; reinstall the package")


def read_yaml(path: Path):
    """A YAML file of verifier's own or of a methodology module's (trusted code's files, never a
    submission's: those are read by verifier.submission with errors naming their line), parsed
    by libyaml's C parser where PyYAML has it: 0.005 s against 0.046 s for the report strings and
    checklists, read before every report. The values are the same: the constructor is the safe
    one either way (tests/test_packaging.py compares every shipped file)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with Path(path).open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)


def package_file(*parts: str) -> Path:
    """A data file shipped inside the ``verifier`` package itself."""
    return _PACKAGE.joinpath(*parts)
