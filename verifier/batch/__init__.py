"""Many filings at once (contract section 7): `verifier batch` verifies each filing as `verify`
would, finds the same trip claimed in two filings, and writes the regulator's summary."""

from verifier.batch.runner import Batch, BatchOptions, run_batch

__all__ = ["Batch", "BatchOptions", "run_batch"]
