"""What every record-level check shares: counting what the engine flagged, and examples."""

from __future__ import annotations

from typing import ClassVar

from verifier.checks.base import Outcome, RecordCheck
from verifier.data.dialect import DIALECT

# How the reasons of one record are joined, per report language (excluded.csv, the examples).
REASON_SEP = {"zh": "；", "en": "; "}

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
        examples = ctx.engine.examples(self.id, fields, reason=self.reason_sql(ctx, ctx.opts.lang))
        pkm = ctx.stats.get(f"pkm:{self.id}") or 0.0
        return self.result("found", affected=n, examples=examples, pkm=round(pkm, 3), **self.values(ctx))

    example_extra: ClassVar[list[str]] = []

    # Why a record is flagged, in words ({zh, en}), when the words need no value of the record.
    reason: ClassVar[dict[str, str]] = {}

    def reason_sql(self, ctx, lang: str) -> str | None:
        """SQL text (over the columns of `records`) saying in `lang` why a record this check flags
        is flagged: the reason excluded.csv and the examples give. A check whose words need the
        record's values (a row it repeats, a distance) overrides this."""
        words = self.reason.get(lang) or self.reason.get("zh")
        return DIALECT.text(words) if words else None

    def values(self, ctx) -> dict:
        """Extra fields for the messages (reported/observed and the like)."""
        return {}


def missing_outcome(zh: str, en: str) -> Outcome:
    return Outcome("not_evaluated", zh, en)
