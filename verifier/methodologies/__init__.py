"""The methodologies, one module each, registered under their contract ids (see base.py)."""

import importlib
import pkgutil

from verifier.methodologies.base import REGISTRY, Column, Methodology, Problem, UnknownMethodology, get, register

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")  # importing registers

__all__ = ["REGISTRY", "Column", "Methodology", "Problem", "UnknownMethodology", "get", "register"]
