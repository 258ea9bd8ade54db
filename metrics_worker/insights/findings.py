"""All findings of a scope and window, in a stable order: strongest first, then shifts, drivers,
outliers, data quality, then by kind, service and sentence."""

from metrics_worker.insights.inputs import STRENGTH_ORDER, InsightInput
from metrics_worker.insights.patterns import data_quality, patterns
from metrics_worker.insights.shifts import shifts
from schemas.insights import Finding

_CATEGORY = {"data_quality": 0, "shift": 1, "driver": 2, "outlier": 3}


def findings(data: InsightInput) -> list[Finding]:
    found = [*shifts(data), *patterns(data), *data_quality(data)]
    return sorted(
        found,
        key=lambda f: (STRENGTH_ORDER[f.strength], _CATEGORY[f.category], f.kind, f.service or "", f.sentence),
    )
