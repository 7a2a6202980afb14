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


_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


def _normalise(text: str, *, keep_spaces: bool = False) -> str:
    # Full-width forms to half-width, no invisible characters and (for literal words) no
    # spaces, so "找 人 上 门" and a word split by a zero-width space still match.
    out = []
    for ch in _INVISIBLE.sub("", text):
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        elif code == 0x3000:
            ch = " "
        out.append(ch)
    joined = "".join(out)
    if keep_spaces:
        return re.sub(r"\s+", " ", joined).lower()
    return re.sub(r"\s+", "", joined).lower()


def scan(organisation_id: int, text: str, *, third_party: bool = False) -> list[Hit]:
    """Every lexicon hit in ``text``; third-party-only categories count when ``third_party``."""
    if not text or not text.strip():
        return []
    flat = _normalise(text)
    spaced = _normalise(text, keep_spaces=True)
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
                found = any(
                    re.search(term.term, form, re.IGNORECASE) is not None for form in (flat, spaced)
                )
            except re.error:
                found = False
        else:
            found = _normalise(term.term) in flat
        key = (category.code, term.term)
        if found and key not in seen:
            seen.add(key)
            hits.append(Hit(category.code, category.name, category.tier, term.term))
    return hits
