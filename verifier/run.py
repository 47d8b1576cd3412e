"""The run's public entry point (kept for callers of `verifier.run.verify`): see verifier.pipeline."""

from verifier.pipeline import sha256_file, verify

__all__ = ["sha256_file", "verify"]
