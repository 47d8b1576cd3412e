"""transit.tap_pairing: every raw tap is accounted for."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register


@register
class TransitTapPairing(Check):
    """Raw tap records only: every metro entry pairs with the same card's next exit within 180
    minutes (the paid-area limit). Unpaired entries, unpaired exits, exits before entries,
    over-long stays, exact duplicate taps, taps of an unknown type and invalid taps (no card or
    no parseable time) are counted and reported (warn), never dropped silently; they form no
    trip and so are not claimed. `affected` counts all of them."""

    id = "transit.tap_pairing"
    order = 23  # row of the contract's check table
    title = {"zh": "刷卡进出站配对", "en": "Tap pairing"}
    description = {
        "zh": "原始刷卡记录：每次地铁进站与同一卡 180 分钟内的下一次出站配对，统计未配对、先出后进、超时和重复刷卡。",
        "en": "Raw taps - each metro entry pairs with the same card's next exit within 180 minutes; unpaired, reversed, over-long and duplicate taps are counted."}
    correction = {
        "zh": "说明未配对及异常刷卡记录的原因。",
        "en": "Explain the unpaired and irregular tap records."}
    catalogue = {
        "ok": Outcome("pass", "{taps} 条刷卡记录全部配对：地铁 {trips_metro} 次，公交 {trips_bus} 次。",
                      "All {taps} taps accounted for: {trips_metro} metro and {trips_bus} bus trips."),
        "found": Outcome("warn", "{taps} 条刷卡记录中 {affected} 条未能配对：有进无出 {unpaired_entries}，有出无进 {unpaired_exits}，"
                                 "出站早于进站 {exit_before_entry}，超时 {overlong}，完全重复 {exact_duplicates}，未知类型 {unknown_type}，无效 {invalid}。",
                         "{affected} of {taps} taps not paired: entries without exit {unpaired_entries}, exits without entry "
                         "{unpaired_exits}, exit before entry {exit_before_entry}, over-long {overlong}, exact duplicates "
                         "{exact_duplicates}, unknown type {unknown_type}, invalid {invalid}."),
        "trips": Outcome("not_applicable", "数据为行程记录而非原始刷卡记录，不适用。",
                         "The data is trips, not raw taps: does not apply."),
    }

    def evaluate(self, ctx):
        stats = ctx.tap_stats
        if stats is None:
            return self.result("trips")
        values = {k: getattr(stats, k) for k in ("taps", "trips_metro", "trips_bus", "unpaired_entries",
                                                 "unpaired_exits", "exit_before_entry", "overlong",
                                                 "exact_duplicates", "unknown_type", "invalid")}
        n = stats.anomalies()  # every tap that forms no trip, duplicates included
        examples = [dict(e, category=cat) for cat, items in stats.examples.items() for e in items][:10]
        return self.result("found" if n else "ok", affected=n, reported=stats.taps, observed=n,
                           examples=examples, details=values, **values)
