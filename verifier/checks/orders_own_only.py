"""orders.own_only: no aggregated order is claimed."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome
from verifier.data.dialect import DIALECT


@register
class OrdersOwnOnly(FlagCheck):
    """An operator that is also an aggregator must count only its own orders (自有订单), never
    aggregated ones (聚合订单). A record whose `order_source` is `aggregated` is excluded.
    Without an `order_source` column the data cannot answer: not evaluated."""

    id = "orders.own_only"
    order = 4  # row of the contract's check table
    title = {"zh": "仅含自有订单", "en": "Own orders only"}
    description = {
        "zh": "核对申报数据不含聚合订单，仅计入自有订单。",
        "en": "Confirms the claimed records contain no aggregated orders (order_source = aggregated), only the applicant's own orders."}
    correction = {
        "zh": "从申报数据中剔除聚合订单，仅保留自有订单，并据此更正骑行次数、里程和减排量。",
        "en": "Remove aggregated orders from the claimed data, keep own orders only, and correct ride count, mileage and reduction accordingly."}
    catalogue = {
        "ok": Outcome("pass", "未发现聚合订单。", "No aggregated order is claimed."),
        "found": Outcome("fail", "{affected} 条记录为聚合订单（{pkm} 人公里），已剔除。",
                         "{affected} record(s) are aggregated orders ({pkm} pkm), excluded."),
        "missing": missing_outcome("无法评估：骑行数据没有订单来源列。",
                                   "Not evaluated: the trip data has no order_source column."),
    }
    example_extra = []
    reason = {"zh": "聚合订单", "en": "aggregated order"}

    def evaluable(self, ctx):
        return None if ctx.has("order_source") else "missing"

    def predicate(self, ctx):
        return f"order_source = {DIALECT.text('aggregated')}" if ctx.has("order_source") else None
