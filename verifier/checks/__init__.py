"""All checks, one module each, registered under their contract ids (importing registers).

Every module of this package but the shared bases is imported, so adding a check is adding its
file; the registry lists the checks in the contract's order (`Check.order`).
"""

import importlib
import pkgutil

from verifier.checks.base import REGISTRY

SHARED = {"base", "record"}  # the bases checks are built on, not checks

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in SHARED:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY"]
