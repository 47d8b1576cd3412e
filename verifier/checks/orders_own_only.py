"""orders.own_only: no aggregated order is claimed."""

from __future__ import annotations

from verifier.checks.base import Outcome, register
from verifier.checks.record import FlagCheck, missing_outcome
from verifier.methodology import BIKE


@register
class OrdersOwnOnly(FlagCheck):
    """An operator that is also an aggregator must count only its own orders (自有订单), never
    aggregated ones (聚合订单). A record whose `order_source` is `aggregated` is excluded.
    Without an `order_source` column the data cannot answer: not evaluated."""

    id = "orders.own_only"
    methodologies = frozenset({BIKE})
    catalogue = {
        "ok": Outcome("pass", "未发现聚合订单。", "No aggregated order is claimed."),
        "found": Outcome("fail", "{affected} 条记录为聚合订单（{pkm} pkm），已剔除。",
                         "{affected} record(s) are aggregated orders ({pkm} pkm), excluded."),
        "missing": missing_outcome("无法评估：骑行数据没有 order_source（订单来源）列。",
                                   "Not evaluated: the trip data has no order_source column."),
    }
    example_extra = []

    def evaluable(self, ctx):
        return None if ctx.has("order_source") else "missing"

    def predicate(self, ctx):
        return "order_source = 'aggregated'" if ctx.has("order_source") else None
