"""Figures and the report: median (min-max) of repeated runs, ratio to target, text table, markdown.

Pure: no I/O here except what the caller passes in, so it is table-tested.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Op = Literal[">=", "<=", "<"]

BEGIN = "<!-- bench:begin (written by `python -m bench`; edit outside these markers) -->"
END = "<!-- bench:end -->"


@dataclass(frozen=True, slots=True)
class Target:
    op: Op
    value: float

    def met(self, measured: float) -> bool:
        if self.op == ">=":
            return measured >= self.value
        if self.op == "<=":
            return measured <= self.value
        return measured < self.value

    def text(self, unit: str) -> str:
        return f"{self.op} {_number(self.value)}{_unit(unit)}"


@dataclass(slots=True)
class Figure:
    scenario: str  # "1 ingest, distributed"
    name: str  # "throughput"
    unit: str  # "webhooks/s", "ms", "MB", "%", "x"
    samples: list[float]
    target: Target | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def low(self) -> float:
        return min(self.samples) if self.samples else float("nan")

    @property
    def high(self) -> float:
        return max(self.samples) if self.samples else float("nan")

    @property
    def ratio(self) -> float | None:
        """Median over target (>= 1 is good for a floor, <= 1 for a ceiling)."""
        if self.target is None or not self.samples or self.target.value == 0:
            return None
        return self.median / self.target.value

    @property
    def verdict(self) -> str:
        if self.target is None or not self.samples:
            return ""
        return "yes" if self.target.met(self.median) else "NO"

    def value_text(self) -> str:
        if not self.samples:
            return "n/a"
        text = f"{_number(self.median)}{_unit(self.unit)}"
        if len(self.samples) > 1:
            text += f" ({_number(self.low)}-{_number(self.high)})"
        return text


@dataclass(slots=True)
class Report:
    machine: dict[str, str]
    command: str
    conditions: str
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)  # scenario -> method notes
    seconds: float = 0.0

    def note(self, scenario: str, text: str) -> None:
        self.notes.setdefault(scenario, []).append(text)


def _number(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _unit(unit: str) -> str:
    if not unit:
        return ""
    return unit if unit in ("%", "x") else f" {unit}"


def _ratio_text(figure: Figure) -> str:
    ratio = figure.ratio
    return "" if ratio is None else f"{ratio:.2f}"


def rows(figures: Sequence[Figure]) -> list[list[str]]:
    return [
        [
            f.scenario,
            f.name,
            f.value_text(),
            "" if f.target is None else f.target.text(f.unit),
            _ratio_text(f),
            f.verdict,
        ]
        for f in figures
    ]


HEADER = ["scenario", "figure", "median (min-max)", "target", "median/target", "met"]


def text_table(figures: Sequence[Figure]) -> str:
    table = [HEADER, *rows(figures)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = []
    for n, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(report: Report) -> str:
    out = [BEGIN, "", "## Results", ""]
    out.append(f"Run: `{report.command}` ({report.seconds:.0f} s). {report.conditions}")
    out.append("")
    out.append("| " + " | ".join(HEADER) + " |")
    out.append("|" + "|".join("---" for _ in HEADER) + "|")
    for row in rows(report.figures):
        out.append("| " + " | ".join(_md_cell(cell) for cell in row) + " |")
    out += ["", "### Machine", "", "| | |", "|---|---|"]
    for key, value in report.machine.items():
        out.append(f"| {_md_cell(key)} | {_md_cell(value)} |")
    if report.notes:
        out += ["", "### How each figure was measured", ""]
        for scenario, notes in report.notes.items():
            out.append(f"- **{scenario}**")
            out += [f"  - {note}" for note in notes]
    out += ["", END]
    return "\n".join(out)


def splice(existing: str | None, generated: str, title: str = "# Benchmarks") -> str:
    """Replace the generated block of a document, keeping what was written around it by hand."""
    if existing is None or BEGIN not in existing or END not in existing:
        head = existing.rstrip() + "\n\n" if existing else f"{title}\n\n"
        return head + generated + "\n"
    before, _, rest = existing.partition(BEGIN)
    _, _, after = rest.partition(END)
    return before + generated + after
