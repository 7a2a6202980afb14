"""The English UI: the catalogue is complete, the committed .mo matches it, and the switch works.

When a test here fails after a source string changed, run ``scripts/i18n``, translate the new
or fuzzy entries of locale/en/LC_MESSAGES/django.po, and run ``scripts/i18n`` again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

pytestmark = pytest.mark.django_db

PO_PATH = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"django.po:{self.line} {self.msgid!r}"


def _unquote(text: str) -> str:
    assert len(text) >= 2, text
    assert text[0] == text[-1] == '"', text
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), text[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """Every entry of a .po file, the header (msgid "") included; obsolete ones are skipped."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None  # which field continuation lines append to

    def start(lineno: int) -> Entry:
        nonlocal entry
        if entry is None:
            entry = Entry(line=lineno)
            entries.append(entry)
        return entry

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            entry, target = None, None
        elif line.startswith("#~"):
            continue
        elif line.startswith("#,"):
            start(lineno).flags.update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            start(lineno)
        elif line.startswith('"'):
            assert entry is not None, f"stray string at line {lineno}"
            assert target is not None, f"stray string at line {lineno}"
            name, index = target
            value = _unquote(line)
            if name == "msgstr":
                entry.msgstr[index] += value
            else:
                setattr(entry, name, (getattr(entry, name) or "") + value)
        else:
            keyword, _, rest = line.partition(" ")
            current = start(lineno)
            value = _unquote(rest.strip())
            if match := re.fullmatch(r"msgstr\[(\d+)\]", keyword):
                target = ("msgstr", int(match.group(1)))
                current.msgstr[target[1]] = value
            elif keyword == "msgstr":
                target = ("msgstr", 0)
                current.msgstr[0] = value
            elif keyword in ("msgid", "msgid_plural", "msgctxt"):
                target = (keyword, 0)
                setattr(current, keyword, value)
            else:
                raise AssertionError(f"unknown keyword {keyword!r} at line {lineno}")
    return entries


def _messages() -> list[Entry]:
    return [e for e in parse_po(PO_PATH) if e.msgid]


def test_the_catalogue_is_parsed():
    entries = parse_po(PO_PATH)
    assert entries[0].msgid == "", "the .po starts with its header"
    assert "Language: en" in entries[0].msgstr[0]
    assert len(_messages()) > 100
    assert any(e.msgid_plural for e in _messages())


def test_every_entry_is_translated_and_none_is_fuzzy():
    problems = []
    for entry in parse_po(PO_PATH):  # the header too: a fuzzy header is dropped by msgfmt
        if "fuzzy" in entry.flags:
            problems.append(f"{entry.label}: fuzzy")
        if not entry.msgid:
            continue
        expected = 2 if entry.msgid_plural is not None else 1
        if len(entry.msgstr) != expected:
            problems.append(f"{entry.label}: {len(entry.msgstr)} msgstr, expected {expected}")
        problems += [f"{entry.label}: empty msgstr[{i}]" for i, s in entry.msgstr.items() if not s]
    assert not problems, "untranslated entries (run scripts/i18n):\n" + "\n".join(problems)


def test_translations_keep_the_placeholders():
    problems = []
    for entry in _messages():
        source = set(PLACEHOLDER.findall(entry.msgid))
        if entry.msgid_plural is None:
            if set(PLACEHOLDER.findall(entry.msgstr.get(0, ""))) != source:
                problems.append(entry.label)
        else:
            source |= set(PLACEHOLDER.findall(entry.msgid_plural))
            for text in entry.msgstr.values():
                if not set(PLACEHOLDER.findall(text)) <= source:
                    problems.append(entry.label)
    assert not problems, "placeholders differ from the source:\n" + "\n".join(problems)


def test_the_compiled_catalogue_matches_the_po():
    """The committed django.mo serves exactly the translations of django.po."""
    stale = []
    with translation.override("en"):
        for entry in _messages():
            if entry.msgid_plural is None:
                if entry.msgctxt is None:
                    got = [translation.gettext(entry.msgid)]
                else:
                    got = [translation.pgettext(entry.msgctxt, entry.msgid)]
            elif entry.msgctxt is None:
                got = [translation.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
            else:
                got = [
                    translation.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                    for n in (1, 2)
                ]
            want = [entry.msgstr.get(i, "") for i in range(len(got))]
            if got != want:
                stale.append(f"{entry.label}: .mo gives {got!r}, .po says {want!r}")
    assert not stale, "django.mo is stale (run scripts/i18n):\n" + "\n".join(stale)


def test_the_default_language_is_simplified_chinese(client):
    body = client.get("/accounts/login/").content.decode()
    assert 'lang="zh-hans"' in body
    assert "登录" in body
    assert 'data-testid="lang-en"' in body


def test_the_login_page_in_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    body = client.get("/accounts/login/").content.decode()
    assert 'lang="en"' in body
    assert "Log in to Recoup" in body
    assert "Username" in body
    assert "Password" in body
    assert "登录" not in body
    # The only Chinese left is the switch back, named in its own language.
    assert not CJK.search(body.replace("简体中文", "")), CJK.findall(body)


def test_the_case_list_in_english(world, client, login):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    login(world.sue)
    body = client.get("/cases/").content.decode()
    assert 'lang="en"' in body
    for text in ("Case list", "Total owed", "Days overdue", "Collector", "All clients"):
        assert text in body
    assert "Supervisor" in body  # the role label in the header
    assert "欠款总额" not in body
