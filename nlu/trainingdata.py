"""Reading the Rasa training and test files (YAML, ``version: "3.1"``) and checking them.

Rasa reads the files itself for training; this module reads them for what Rasa does not do:
the coverage check (``python -m nlu check-data``), the cross-validation folds and the baseline.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlu.model import DATA_DIR, TESTS_DIR
from nlu.taxonomy import load_taxonomy

# Intents that are not demand categories (the bot handles them in conversation).
CONVERSATION_INTENTS = ("greet", "goodbye", "ask_progress", "ask_plan", "out_of_scope")
MIN_EXAMPLES_PER_CATEGORY = 40
MIN_HELDOUT_PER_CATEGORY = 10

# [3号楼](building) or [3号楼]{"entity": "building"} (Rasa's two inline annotation forms).
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|\{(?P<json>[^}]*)\})")
_JSON_ENTITY = re.compile(r'"entity"\s*:\s*"(?P<name>[^"]+)"')


@dataclass(frozen=True, slots=True)
class Example:
    text: str  # plain text, annotations removed
    intent: str
    annotated: str  # as written in the file
    entities: tuple[tuple[str, str], ...]  # (entity, value)
    source: str  # file name


def strip_annotations(annotated: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Plain text and (entity, value) pairs of an inline-annotated example."""
    entities: list[tuple[str, str]] = []

    def plain(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            json_name = _JSON_ENTITY.search(match.group("json") or "")
            name = json_name.group("name") if json_name else ""
        name = name.split(":")[0].strip()  # [value](entity:synonym) form
        entities.append((name, match.group("text")))
        return match.group("text")

    return _ANNOTATION.sub(plain, annotated), tuple(entities)


def _example_lines(block: str | list[object]) -> list[str]:
    if isinstance(block, list):  # tolerated: a YAML list instead of Rasa's "- " block
        return [str(x.get("text", "") if isinstance(x, dict) else x) for x in block]
    lines = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("-"):
            lines.append(line[1:].strip())
    return [line for line in lines if line]


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a Rasa ``nlu:`` list: kind is intent, lookup, regex or synonym."""

    kind: str
    name: str
    lines: tuple[str, ...]


_KINDS = ("intent", "lookup", "regex", "synonym")


def load_items(path: Path) -> list[Item]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = []
    for entry in raw.get("nlu") or []:
        kind = next((k for k in _KINDS if k in entry), None)
        if kind is None:
            continue
        items.append(
            Item(kind, str(entry[kind]), tuple(_example_lines(entry.get("examples") or "")))
        )
    return items


def load_file(path: Path) -> list[Example]:
    """Intent examples of one Rasa NLU YAML file (lookups, regexes and synonyms are skipped)."""
    examples = []
    for item in load_items(path):
        if item.kind != "intent":
            continue
        for annotated in item.lines:
            text, entities = strip_annotations(annotated)
            if text:
                examples.append(Example(text, item.name, annotated, entities, path.name))
    return examples


def dump_items(items: Iterable[Item]) -> str:
    """Rasa 3.1 NLU YAML for ``items`` (the inverse of ``load_items``)."""
    out = ['version: "3.1"', "nlu:"]
    for item in items:
        out.append(f"- {item.kind}: {item.name}")
        out.append("  examples: |")
        out.extend(f"    - {line}" for line in item.lines)  # literal block: no quoting
    return "\n".join(out) + "\n"


def normalized_items(items: Iterable[Item]) -> list[Item]:
    """Items with intent examples normalised as the model will see them at run time: place
    names masked (``nlu/places.py``), as ``normalize.for_nlu`` masks them in every message."""
    from nlu.normalize import normalize
    from nlu.places import mask_places

    result = []
    for item in items:
        if item.kind == "intent":
            masked = (mask_places(normalize(line)) for line in item.lines)
            lines = tuple(dict.fromkeys(line for line in masked if line))
            item = Item(item.kind, item.name, lines)
        result.append(item)
    return result


def build_training_dir(dest: Path, source: Path = DATA_DIR) -> None:
    """Copy the training data to ``dest`` with every example normalised (what Rasa trains on)."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.yml"):
        old.unlink()
    for path in sorted(source.glob("*.yml")):
        (dest / path.name).write_text(dump_items(normalized_items(load_items(path))), "utf-8")


def load_dir(directory: Path, pattern: str = "*.yml") -> list[Example]:
    examples: list[Example] = []
    for path in sorted(directory.glob(pattern)):
        examples.extend(load_file(path))
    return examples


def training_examples() -> list[Example]:
    return load_dir(DATA_DIR)


def heldout_examples() -> list[Example]:
    return load_dir(TESTS_DIR, "heldout_*.yml")


@dataclass(frozen=True, slots=True)
class UrgentCases:
    urgent: list[str]
    not_urgent: list[str]


def urgent_cases(path: Path = TESTS_DIR / "urgent_cases.yml") -> UrgentCases:
    """The ``urgent:`` and ``not_urgent:`` lists (empty when the file does not exist yet)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    raw = raw or {}

    def texts(key: str) -> list[str]:
        return [
            str(item["text"] if isinstance(item, dict) else item) for item in raw.get(key) or []
        ]

    return UrgentCases(urgent=texts("urgent"), not_urgent=texts("not_urgent"))


def check_data(data_dir: Path = DATA_DIR, tests_dir: Path = TESTS_DIR) -> list[str]:
    """Problems with the training and held-out data (empty when it is fine)."""
    from nlu.normalize import normalize

    taxonomy = load_taxonomy()
    known = set(taxonomy.ids) | set(CONVERSATION_INTENTS)
    train = load_dir(data_dir)
    heldout = load_dir(tests_dir, "heldout_*.yml")
    problems: list[str] = []

    counts = Counter(e.intent for e in train)
    for category in taxonomy.ids:
        if counts[category] < MIN_EXAMPLES_PER_CATEGORY:
            problems.append(
                f"category {category}: {counts[category]} training examples, "
                f"at least {MIN_EXAMPLES_PER_CATEGORY} needed"
            )
    for intent in CONVERSATION_INTENTS:
        if counts[intent] == 0:
            problems.append(f"intent {intent}: no training examples")
    for intent in sorted(set(counts) - known):
        problems.append(f"intent {intent}: not a taxonomy id nor a conversation intent")

    intents_of: dict[str, set[str]] = defaultdict(set)
    for e in train:
        intents_of[normalize(e.text)].add(e.intent)
    for text, intents in sorted(intents_of.items()):
        if len(intents) > 1:
            problems.append(f"example {text!r} is under several intents: {sorted(intents)}")

    return problems + _heldout_problems(heldout, taxonomy.ids, known, trained=set(intents_of))


def _heldout_problems(
    heldout: Sequence[Example], categories: Iterable[str], known: set[str], *, trained: set[str]
) -> list[str]:
    """Too few held-out examples of a category, unknown intents, and examples also trained on
    (``trained``: the normalised training texts)."""
    from nlu.normalize import normalize

    problems: list[str] = []
    held_counts = Counter(e.intent for e in heldout)
    for category in categories:
        if held_counts[category] < MIN_HELDOUT_PER_CATEGORY:
            problems.append(
                f"held-out {category}: {held_counts[category]} examples, "
                f"at least {MIN_HELDOUT_PER_CATEGORY} needed"
            )
    for intent in sorted(set(held_counts) - known):
        problems.append(f"held-out intent {intent}: unknown")
    for e in heldout:
        if normalize(e.text) in trained:
            problems.append(
                f"held-out example {e.text!r} ({e.source}) is also in the training data"
            )
    return problems


def entity_patterns(directory: Path = DATA_DIR) -> list[tuple[str, re.Pattern[str]]]:
    """The regexes and lookup tables as Rasa's RegexEntityExtractor applies them (no ``\\b``)."""
    patterns = []
    for path in sorted(directory.glob("*.yml")):
        for item in load_items(path):
            if item.kind == "regex":
                patterns += [(item.name, re.compile(line, re.IGNORECASE)) for line in item.lines]
            elif item.kind == "lookup":
                alternation = "|".join(re.escape(line) for line in item.lines)
                patterns.append((item.name, re.compile(f"({alternation})", re.IGNORECASE)))
    return patterns


def extract_entities(
    text: str, patterns: list[tuple[str, re.Pattern[str]]]
) -> set[tuple[str, str]]:
    return {(name, m.group(0)) for name, pattern in patterns for m in pattern.finditer(text)}
