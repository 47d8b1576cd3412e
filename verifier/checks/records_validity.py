"""records.validity: each record has its required fields, parseable and consistent."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import REASON_SEP, FlagCheck
from verifier.data.dialect import DIALECT
from verifier.methodologies.base import Problem, as_problem


@register
class RecordsValidity(FlagCheck):
    """What each record must have, as its methodology says (`Methodology.record_problems`).
    Required fields present and parseable; end after start; distance > 0; coordinates in
    range (longitude −180..180, latitude −90..90). Bike: user, times, both points and the
    distance. Transit: trip_id (when the column exists), user_id, mode in {bus, metro} and
    start_time; an end time, where given, after the start; metro rows also end_time,
    entry_station, exit_station and distance_km > 0, finite (a metro distance filled from the station
    table, for tap data, counts as given). A value that does not parse is missing; a
    distance of NaN or ±inf is invalid."""

    id = "records.validity"
    order = 11  # row of the contract's check table
    rule = "validity"
    title = {"zh": "记录有效性", "en": "Validity of records"}
    description = {
        "zh": "核对必填字段齐全且可解析、结束时间晚于开始时间、里程大于 0、坐标在有效范围内（公共出行：方式、站点、地铁里程等）。",
        "en": "Confirms required fields are present and parseable, end after start, distance above 0, coordinates in range (transit - mode, stations, metro distance)."}
    correction = {
        "zh": "更正或剔除无效记录，并据此更正次数、里程和减排量。",
        "en": "Correct or remove invalid records and correct counts, mileage and reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "全部记录字段齐全、格式有效。", "Every record has its required fields, valid."),
        "found": Outcome("fail", "{affected} 条记录字段缺失或无效（{pkm} 人公里），已剔除。",
                         "{affected} record(s) have missing or invalid fields ({pkm} pkm), excluded."),
    }

    def predicate(self, ctx):
        return " OR ".join(f"coalesce({p.sql}, true)" for p in self._problems(ctx))

    def rule_args(self, ctx):
        """Its predicate: the window rules judge overlaps among the records it does not flag."""
        return self.predicate(ctx)

    def reason_sql(self, ctx, lang):
        """The words of every problem that holds; for a record flagged only because a problem
        could not be judged (NULL: a field it compares is missing), the words of those."""
        problems = self._problems(ctx)

        def words(test: str) -> str:
            return DIALECT.joined([f"CASE WHEN ({p.sql}) {test} THEN {DIALECT.text(getattr(p, lang))} END"
                                   for p in problems], REASON_SEP[lang])

        return f"coalesce(nullif({words('IS TRUE')}, ''), {words('IS NULL')})"

    def _problems(self, ctx) -> list[Problem]:
        return [as_problem(p) for p in ctx.methodology.record_problems(ctx.has)]
