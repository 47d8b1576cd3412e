"""统一社会信用代码 (unified social credit code) check character, GB 32100-2015."""

from __future__ import annotations

# The 31 characters the standard allows (no I, O, Z, S, V), in code-value order.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Weight of position i is 3**i mod 31 (GB 32100-2015, 5.2).
WEIGHTS = [pow(3, i, 31) for i in range(17)]


def uscc_check_char(first17: str) -> str:
    """The 18th character that makes ``first17`` a valid code; ValueError on a bad character."""
    if len(first17) != 17:
        raise ValueError("a USCC body has 17 characters")
    try:
        total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    except ValueError:
        raise ValueError(f"character outside the GB 32100-2015 alphabet in {first17!r}") from None
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: object) -> bool:
    """True when ``code`` is 18 characters of the alphabet with a correct check character."""
    if not isinstance(code, str) or len(code) != 18 or any(c not in ALPHABET for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]
