"""The one error type of the pricing library: input that cannot be priced.

Who raises it: any pricing function handed a value it refuses (an unknown calendar, a maturity
before its start, pillars out of order, a negative notional, an unknown JSON field). What the
caller should do: show ``field`` and ``message`` to whoever supplied the input (the CLI exits
with status 2, the gRPC servicer answers INVALID_ARGUMENT). This module must never import
anything heavier than the standard library.
"""

from __future__ import annotations


class PricingInputError(ValueError):
    """Input refused by the pricing library; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable (pricing runs in worker processes and its errors come back).
        return (type(self), (self.field, self.message))
