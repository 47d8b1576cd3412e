"""All checks, registered under their contract ids in the contract's order."""

from verifier.checks import (  # noqa: F401  (importing registers)
    report_completeness,
    report_arithmetic,
    applicant_eligibility,
    orders_own_only,
    period_crediting_start,
    period_natural_year,
    period_records_in_period,
    period_user_authorization,
    boundary_geographic,
    boundary_crs,
    records_validity,
    records_duplicates,
    records_overlap,
    records_plausibility,
    count_reconciliation,
    distance_reconciliation,
    sample_completeness,
    factor_values,
    reduction_recalculation,
    documents_materials,
    transit_metro_distance,
    transit_daily_cap,
    transit_tap_pairing,
    transit_fare_band,
)
from verifier.checks.base import REGISTRY

__all__ = ["REGISTRY"]
