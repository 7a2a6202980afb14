"""Scanning text against the forbidden-word lexicon (催收禁语, COMPLIANCE.md §E).

The categories and words are data kept by the compliance officer; a hit is not a refusal of
the note (the collector's record must be kept as written) but flags it for quality review.
Templates are refused on a hit (``recoup.contact`` template linting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recoup.compliance.models import LexiconTerm


@dataclass(frozen=True)
class Hit:
    category: str
    name: str
    tier: str
    term: str

    def as_dict(self) -> dict[str, str]:
        return {"category": self.category, "name": self.name, "tier": self.tier, "term": self.term}


def _normalise(text: str) -> str:
    # Full-width forms to half-width and no spaces, so "找 人 上 门" still matches.
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        elif code == 0x3000:
            ch = " "
        out.append(ch)
    return re.sub(r"\s+", "", "".join(out)).lower()


def scan(organisation_id: int, text: str, *, third_party: bool = False) -> list[Hit]:
    """Every lexicon hit in ``text``; third-party-only categories count when ``third_party``."""
    if not text or not text.strip():
        return []
    flat = _normalise(text)
    terms = LexiconTerm.objects.filter(
        organisation_id=organisation_id, category__active=True
    ).select_related("category")
    if not third_party:
        terms = terms.filter(category__third_party_only=False)
    hits: list[Hit] = []
    seen: set[tuple[str, str]] = set()
    for term in terms:
        category = term.category
        if term.is_pattern:
            try:
                # The text is lower-cased above, so a pattern written "QR码" must ignore case.
                found = re.search(term.term, flat, re.IGNORECASE) is not None
            except re.error:
                found = False
        else:
            found = _normalise(term.term) in flat
        key = (category.code, term.term)
        if found and key not in seen:
            seen.add(key)
            hits.append(Hit(category.code, category.name, category.tier, term.term))
    return hits
