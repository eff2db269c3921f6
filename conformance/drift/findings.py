"""What drift reports: one :class:`Finding` per difference between a recorded answer and
the dialect as the simulator serves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The kinds of difference, by name. Every kind but TIMING and UNSEEN is a difference in
# shape, status, vocabulary or transitions, and makes ``musicsim drift`` exit 1.
UNKNOWN_OPERATION = "unknown-operation"
UNDOCUMENTED_STATUS = "undocumented-status"
MISSING_FIELD = "missing-field"
EXTRA_FIELD = "extra-field"
WRONG_TYPE = "wrong-type"
UNKNOWN_VALUE = "unknown-value"  # outside an enum of the schema
INVALID_VALUE = "invalid-value"  # any other rule of the schema (pattern, format, bounds)
NOT_JSON = "not-json"
ERROR_SHAPE = "error-shape"
UNKNOWN_STATUS_WORD = "unknown-status-word"
BACKWARD_TRANSITION = "backward-transition"
SKIPPED_STATE = "skipped-state"
TIMING = "timing"  # information: real services' timings vary
UNSEEN = "unseen-state"  # information: a state the polls were too sparse to catch

INFORMATION = frozenset({TIMING, UNSEEN})


@dataclass
class Finding:
    """One difference: its kind, the operation (``GET /v1/tasks/{task_id}``) and field
    (a JSON path, ``$.data[*].status``) it concerns, a sentence, and the exchange it was
    seen in. ``suggestion`` is the spec change that would make the simulator agree."""

    kind: str
    operation: str
    field: str
    message: str
    seq: int | None = None
    value: Any = None
    suggestion: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def informational(self) -> bool:
        return self.kind in INFORMATION

    def line(self) -> str:
        where = f" {self.field}" if self.field else ""
        at = f" (exchange {self.seq})" if self.seq is not None else ""
        return f"{self.kind}: {self.operation}{where}: {self.message}{at}"

    def to_json(self) -> dict[str, Any]:
        row = {"kind": self.kind, "operation": self.operation, "field": self.field,
               "message": self.message, "seq": self.seq, "value": self.value,
               "informational": self.informational}
        if self.suggestion:
            row["suggestion"] = self.suggestion
        if self.details:
            row["details"] = self.details
        return row
