"""The renovation demand taxonomy, loaded from ``nlu/taxonomy.yml`` (its one definition)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.yml")


@dataclass(frozen=True, slots=True)
class Tier:
    id: str
    zh: str
    en: str

    def name(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    zh: str
    en: str
    tier: Tier
    description: str

    def name(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.zh


@dataclass(frozen=True, slots=True)
class Taxonomy:
    categories: tuple[Category, ...]
    tiers: dict[str, Tier]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories)

    def get(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(f"unknown category {category_id!r}")

    def __contains__(self, category_id: object) -> bool:
        return any(c.id == category_id for c in self.categories)


@cache
def load_taxonomy(path: Path = TAXONOMY_FILE) -> Taxonomy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    tiers = {tid: Tier(id=tid, zh=t["zh"], en=t["en"]) for tid, t in raw["tiers"].items()}
    categories = tuple(
        Category(
            id=c["id"], zh=c["zh"], en=c["en"], tier=tiers[c["tier"]], description=c["description"]
        )
        for c in raw["categories"]
    )
    ids = [c.id for c in categories]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate category ids")
    return Taxonomy(categories=categories, tiers=tiers)
