"""Money: Decimal only, 2 places, sizes from settings (never floats; ADR 0004)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import models

CENT = Decimal("0.01")


def money_field(verbose_name: Any = None, **kwargs: Any) -> models.DecimalField[Decimal, Decimal]:
    return models.DecimalField(
        verbose_name,
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        **kwargs,
    )


def to_money(value: Decimal | int | str) -> Decimal:
    """Round half up to cents (the banks' convention), refusing floats."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
