"""The layers stay apart. The rules in models/ are shared by the bot and the scheduler, so they
import nothing from bot/ (not even under ``TYPE_CHECKING`` or inside a function). Handler modules
import no other handler module: what several of them show is in bot/screens.py,
bot/staff_card.py or bot/compound_picker.py, and only the packages' ``__init__`` assemble the
routers (for bot/app.py)."""

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


def imports_of(folder: str, prefix: str) -> dict[str, list[str]]:
    """For each module under ``folder``, what it imports from ``prefix`` (a package)."""
    files = sorted((ROOT / folder).rglob("*.py"))
    assert len(files) > 5  # the walk found the package
    found = {}
    for path in files:
        names = [n for n in imported_modules(path) if n == prefix or n.startswith(prefix + ".")]
        if names:
            found[str(path.relative_to(ROOT))] = sorted(names)
    return found


def test_models_import_nothing_from_bot() -> None:
    assert imports_of("models", "bot") == {}


def test_handler_modules_import_no_other_handler_module() -> None:
    assert imports_of("bot/handlers", "bot.handlers") == {
        "bot/handlers/__init__.py": ["bot.handlers"],
        "bot/handlers/staff/__init__.py": ["bot.handlers.staff"],
    }


def test_only_the_app_imports_the_handlers() -> None:
    outside = {
        path: names
        for path, names in imports_of("bot", "bot.handlers").items()
        if not path.startswith("bot/handlers/")
    }
    assert outside == {"bot/app.py": ["bot.handlers"]}
