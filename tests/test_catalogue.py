"""Every contract check is registered, documented and speaks both languages."""

from __future__ import annotations

import re
import string

import pytest

from conftest import SHARED
from verifier.checks import REGISTRY
from verifier.checks.base import Registry
from verifier.checks.record import FlagCheck

CONTRACT_IDS = [
    "report.completeness", "report.arithmetic", "applicant.eligibility", "orders.own_only",
    "period.crediting_start", "period.natural_year", "period.records_in_period", "period.user_authorization",
    "boundary.geographic", "boundary.crs", "records.validity", "records.duplicates", "records.overlap",
    "records.plausibility", "count.reconciliation", "distance.reconciliation", "sample.completeness",
    "factor.values", "reduction.recalculation", "documents.materials", "transit.metro_distance",
    "transit.daily_cap", "transit.tap_pairing", "transit.fare_band",
]


def test_registry_holds_exactly_the_contract_ids_in_order():
    assert REGISTRY.ids() == CONTRACT_IDS


def test_the_order_is_the_contracts_check_table():
    """findings.json lists the checks in the order of the contract's check table (each check
    names its row, `order`): read from the contract itself."""
    table = (SHARED / "spec" / "contract.md").read_text(encoding="utf-8")
    assert re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", table, flags=re.M) == REGISTRY.ids()


def test_a_check_is_registered_by_its_file_alone_in_its_row():
    """A new check module registers itself (the package imports every module); its `order` puts
    it in its row, and a row already taken is refused."""
    registry = Registry(dict(REGISTRY.checks))

    class Between(FlagCheck):
        id = "records.between"
        order = 12.5  # between records.duplicates (12) and records.overlap (13)

    registry.register(Between)
    ids = registry.ids()
    assert ids.index("records.between") == ids.index("records.duplicates") + 1 == ids.index("records.overlap") - 1

    class Taken(FlagCheck):
        id = "records.taken"
        order = 13

    with pytest.raises(ValueError, match="order 13 is records.overlap's"):
        registry.register(Taken)


@pytest.mark.parametrize("check_id", CONTRACT_IDS)
def test_check_is_documented_with_a_bilingual_catalogue(check_id):
    cls = REGISTRY.checks[check_id]
    assert cls.__doc__ and len(cls.__doc__.split()) > 15
    assert cls.catalogue
    for code, outcome in cls.catalogue.items():
        assert outcome.status in ("pass", "fail", "warn", "manual", "not_evaluated", "not_applicable")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in outcome.zh), (check_id, code)
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in outcome.en), (check_id, code)
        zh_fields = {f for _, f, _, _ in string.Formatter().parse(outcome.zh) if f}
        en_fields = {f for _, f, _, _ in string.Formatter().parse(outcome.en) if f}
        assert zh_fields == en_fields, (check_id, code)


@pytest.mark.parametrize("check_id", CONTRACT_IDS)
def test_check_carries_its_title_description_and_correction_in_both_languages(check_id):
    cls = REGISTRY.checks[check_id]
    for field in ("title", "description", "correction"):
        words = getattr(cls, field)
        assert set(words) == {"zh", "en"}, (check_id, field)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in words["zh"]), (check_id, field)
        assert words["en"].strip() and not any("\u4e00" <= ch <= "\u9fff" for ch in words["en"]), (check_id, field)


def test_checks_are_ordered_after_the_checks_they_require():
    order = [cls.id for cls in REGISTRY.in_order()]
    assert sorted(order) == sorted(CONTRACT_IDS)
    for cls in REGISTRY.checks.values():
        for dep in cls.requires:
            assert order.index(dep) < order.index(cls.id), (cls.id, dep)
    assert REGISTRY.checks["reduction.recalculation"].requires == ("applicant.eligibility",)
