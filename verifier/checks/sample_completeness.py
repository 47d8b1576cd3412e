"""sample.completeness: a statistical sample of records is complete."""

from __future__ import annotations

from verifier.checks.base import Check, Outcome, register

@register
class SampleCompleteness(Check):
    """Attribute (discovery) sampling over the whole claimed population: records drawn by the
    md5 rank of "<seed>:<record key>" (contract section 6), each judged complete when it has its
    start (time and place), end (time and place) and mileage, as its methodology defines them
    (`Methodology.sampled_complete`; transit: a metro record start_time, entry_station,
    end_time, exit_station, distance_km; a bus record start_time). The check fails
    when the one-sided Clopper-Pearson upper deviation rate at the confidence exceeds the
    tolerable rate."""

    id = "sample.completeness"
    order = 17  # row of the contract's check table
    title = {"zh": "抽样记录完整性", "en": "Completeness of sampled records"}
    description = {
        "zh": "随机抽样核对每条记录具有完整的起点（时间、地点）、终点（时间、地点）和里程；偏差率上限超过可容忍偏差率时不通过。",
        "en": "Draws a random sample and confirms each record has a complete start (time, place), end (time, place) and mileage; fails when the upper deviation rate exceeds the tolerable rate."}
    correction = {
        "zh": "补全记录的起终点和里程数据，或说明缺失原因；核证机构将扩大抽样。",
        "en": "Complete the start, end and mileage of the records or explain the gaps; the verifier will extend the sample."}
    catalogue = {
        "ok": Outcome("pass", "抽样 {size} 条，偏差 {deviations} 条；{confidence} 置信度下偏差率上限 {upper} 不超过可容忍偏差率 {tolerable}。",
                      "Sampled {size}, {deviations} deviation(s); upper deviation rate {upper} at {confidence} confidence is within the tolerable {tolerable}."),
        "exceeds": Outcome("fail", "抽样 {size} 条，偏差 {deviations} 条；{confidence} 置信度下偏差率上限 {upper} 超过可容忍偏差率 {tolerable}。",
                           "Sampled {size}, {deviations} deviation(s); upper deviation rate {upper} at {confidence} confidence exceeds the tolerable {tolerable}."),
        "empty": Outcome("not_evaluated", "无法评估：数据没有记录。", "Not evaluated: the data has no record."),
    }

    def sample_test(self, ctx, sample):
        return ctx.methodology.sampled_complete(sample)

    def evaluate(self, ctx):
        s = ctx.sampling
        if not s or not s["size"]:
            return self.result("empty")
        code = "exceeds" if s["upper_deviation_rate"] > ctx.opts.tolerable_rate else "ok"
        failed = ctx.sample[ctx.sample[self.id] == "fail"]
        examples = [{"record_key": k} for k in failed["record_key"].head(5).tolist()]
        return self.result(code, affected=s["deviations"], reported=s["size"], observed=s["deviations"],
                           examples=examples, size=s["size"], deviations=s["deviations"],
                           upper=s["upper_deviation_rate"], tolerable=ctx.opts.tolerable_rate,
                           confidence=ctx.opts.confidence)
