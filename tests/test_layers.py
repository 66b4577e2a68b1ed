"""The layers stay apart: the rules in models/ are shared by the bot and the scheduler, so they
import nothing from bot/ (not even under ``TYPE_CHECKING`` or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_models_import_nothing_from_bot() -> None:
    files = sorted((ROOT / "models").rglob("*.py"))
    assert len(files) > 10  # the walk found the package
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name == "bot" or name.startswith("bot.")
        )
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}
