"""Rules a reviewer would otherwise have to remember, checked on every run."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = [p for p in (ROOT / "recoup").rglob("*.py") if p.name in ("views.py", "api.py")]


def test_views_and_api_modules_never_query_models_directly():
    """Views and API handlers go through scoped selectors (STYLE §4.5): no `.objects.`."""
    offenders = []
    for path in ADAPTERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert ADAPTERS, "no views/api modules found"
    assert not offenders, f"use a selector instead of .objects in: {offenders}"


def test_every_environment_variable_is_documented():
    """Every variable settings and scripts read appears in docs/configuration.md."""
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    sources = [ROOT / "config" / "settings.py", *(ROOT / "scripts").iterdir(), ROOT / ".ci" / "run"]
    names: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"env_(?:str|bool|int|list|secret)\(\s*\"(RECOUP_[A-Z_]+)\"", text))
        names |= set(re.findall(r"\$\{?(RECOUP_[A-Z_]+)", text))
    assert len(names) >= 15
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, f"document these in docs/configuration.md: {missing}"


def test_import_contracts_hold():
    """The app layering of docs/architecture.md, enforced by import-linter."""
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_architecture_doc_lists_the_layers_in_the_contract_order():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = config["tool"]["importlinter"]["contracts"][0]["layers"]
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    positions = [doc.find(f"`{layer}`") for layer in layers]
    assert all(p >= 0 for p in positions), f"architecture.md must name each layer: {layers}"


def test_no_secrets_or_env_files_are_tracked():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    assert not re.search(r"(\.pem|\.key|id_rsa|\.env)$", files, re.MULTILINE)
