"""sample.completeness: a statistical sample of records is complete."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register

BIKE_FIELDS = ("start_time", "start_lon", "start_lat", "end_time", "end_lon", "end_lat", "distance_km")
METRO_FIELDS = ("start_time", "entry_station", "end_time", "exit_station", "distance_km")
BUS_FIELDS = ("start_time",)


def complete(sample, is_bike: bool):
    """Per sampled record: True when it has its start (time, place), end (time, place) and mileage."""
    def has(fields):
        return sample[list(fields)].notna().all(axis=1)

    if is_bike:
        return has(BIKE_FIELDS)
    return has(BUS_FIELDS).where(sample["mode"] == "bus", has(METRO_FIELDS) & (sample["mode"] == "metro"))


@register
class SampleCompleteness(Check):
    """Attribute (discovery) sampling over the whole claimed population: records drawn by the
    md5 rank of "<seed>:<record key>" (contract section 6), each judged complete when it has its
    start (time and place), end (time and place) and mileage (transit: a metro record start_time,
    entry_station, end_time, exit_station, distance_km; a bus record start_time). The check fails
    when the one-sided Clopper-Pearson upper deviation rate at the confidence exceeds the
    tolerable rate."""

    id = "sample.completeness"
    sampled = True
    catalogue = {
        "ok": Outcome("pass", "抽样 {size} 条，偏差 {deviations} 条；{confidence} 置信度下偏差率上限 {upper} 不超过可容忍偏差率 {tolerable}。",
                      "Sampled {size}, {deviations} deviation(s); upper deviation rate {upper} at {confidence} confidence is within the tolerable {tolerable}."),
        "exceeds": Outcome("fail", "抽样 {size} 条，偏差 {deviations} 条；{confidence} 置信度下偏差率上限 {upper} 超过可容忍偏差率 {tolerable}。",
                           "Sampled {size}, {deviations} deviation(s); upper deviation rate {upper} at {confidence} confidence exceeds the tolerable {tolerable}."),
        "empty": Outcome("not_evaluated", "无法评估：数据没有记录。", "Not evaluated: the data has no record."),
    }

    def evaluate(self, ctx):
        s = ctx.sampling
        if not s or not s["size"]:
            return self.result("empty")
        code = "exceeds" if s["upper_deviation_rate"] > ctx.opts.tolerable_rate else "ok"
        failed = ctx.sample[ctx.sample[self.id] == "fail"]
        examples = [{"record_key": k} for k in failed["record_key"].head(5).tolist()]
        return self.result(code, affected=s["deviations"], reported=s["size"], observed=s["deviations"],
                           examples=examples, size=s["size"], deviations=s["deviations"],
                           upper=f"{s['upper_deviation_rate']:.4f}", tolerable=f"{ctx.opts.tolerable_rate:g}",
                           confidence=f"{ctx.opts.confidence:g}")
