"""What every record-level check shares: counting what the engine flagged, and examples."""

from __future__ import annotations

from typing import ClassVar

from verifier.checks.base import Outcome, RecordCheck

class FlagCheck(RecordCheck):
    """A record-level check whose outcome is the number of records the engine flagged.

    Subclasses give `predicate` (or rely on an engine window rule) and a catalogue with `ok`,
    `found` and, where the data may not answer, `missing`."""

    # False for checks that only warn: their records stay eligible.
    excludes: ClassVar[bool] = True

    def evaluable(self, ctx) -> str | None:
        """None when the check can run, else the catalogue code saying what is missing."""
        return None

    def evaluate(self, ctx):
        missing = self.evaluable(ctx)
        if missing:
            return self.result(missing)
        n = ctx.flagged(self.id)
        if n == 0:
            return self.result("ok", **self.values(ctx))
        fields = [f for f in ctx.methodology.example_fields if ctx.has(f)] + self.example_extra
        examples = ctx.engine.examples(self.id, fields, reason=self.reason_sql(ctx))
        pkm = ctx.stats.get(f"pkm:{self.id}") or 0.0
        return self.result("found", affected=n, examples=examples, pkm=round(pkm, 3), **self.values(ctx))

    example_extra: ClassVar[list[str]] = []

    def reason_sql(self, ctx) -> str | None:
        """SQL text saying why an example record is flagged (shown with the examples)."""
        return None

    def values(self, ctx) -> dict:
        """Extra fields for the messages (reported/observed and the like)."""
        return {}


def missing_outcome(zh: str, en: str) -> Outcome:
    return Outcome("not_evaluated", zh, en)
