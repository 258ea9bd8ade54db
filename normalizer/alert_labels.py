"""What the alert sources share: Alertmanager's fingerprint of a label set, and the service of an
alert without a service label."""

from collections.abc import Mapping

UNKNOWN_SERVICE = "unknown"  # an alert without any of the service labels
_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_LABEL_SEPARATOR = 0xFF


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's own fingerprint of a label set (Prometheus `model.LabelSet.Fingerprint`:
    FNV-1a 64 over the sorted names and values, each followed by 0xff), for alerts from senders
    too old to send one. An alert later sent with a fingerprint keeps the same identity."""
    digest = _FNV64_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode("utf-8"), _LABEL_SEPARATOR):
                digest = ((digest ^ byte) * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def first_value(values: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = values.get(name, "").strip()
        if value:
            return value
    return None
