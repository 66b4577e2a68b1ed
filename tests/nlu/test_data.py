"""The training data: coverage, duplicates, held-out separation, entity patterns, the lookup."""

from __future__ import annotations

import csv
from pathlib import Path

from nlu.model import (
    COMPONENTS_DIR,
    COMPOUND_LOOKUP,
    COMPOUNDS_CSV,
    NLU_DIR,
    generate_compound_lookup,
    model_hash,
    model_inputs,
)
from nlu.normalize import normalize
from nlu.trainingdata import (
    Item,
    check_data,
    dump_items,
    entity_patterns,
    extract_entities,
    heldout_examples,
    load_items,
    strip_annotations,
    training_examples,
)


def test_training_data_passes_the_check() -> None:
    # every taxonomy id has enough examples, no example under two intents, held-out not trained on
    assert check_data() == []


def test_the_check_reports_duplicates_thin_categories_and_leaks(tmp_path: Path) -> None:
    data, tests = tmp_path / "data", tmp_path / "tests"
    data.mkdir()
    tests.mkdir()
    (data / "a.yml").write_text(
        dump_items(
            [
                Item("intent", "water", ("停水了", "水压太低")),
                Item("intent", "heating_gas", ("停水了",)),
                Item("intent", "greet", ("你好",)),
            ]
        ),
        "utf-8",
    )
    (tests / "heldout_x.yml").write_text(dump_items([Item("intent", "water", ("水压太低",))]))
    problems = "\n".join(check_data(data, tests))
    assert "category water: 2 training examples" in problems
    assert "'停水了' is under several intents" in problems
    assert "'水压太低'" in problems and "also in the training data" in problems
    assert "intent goodbye: no training examples" in problems


def test_annotations_are_stripped_to_plain_text() -> None:
    text, entities = strip_annotations(
        "我住[3号楼](building)[2单元](unit)[501](room),电话[13912345678](phone)"
    )
    assert text == "我住3号楼2单元501,电话13912345678"
    assert entities == (
        ("building", "3号楼"),
        ("unit", "2单元"),
        ("room", "501"),
        ("phone", "13912345678"),
    )


def test_entity_patterns_find_every_annotated_entity() -> None:
    generate_compound_lookup()  # the compound lookup is generated, not committed
    patterns = entity_patterns()
    missed = []
    for example in training_examples() + heldout_examples():
        text = normalize(example.text)
        found = extract_entities(text, patterns)
        # held-out texts are not printed: they are scored once and must not be tuned on
        shown = example.text if "heldout" not in example.source else example.source
        missed += [(shown, e) for e in example.entities if e not in found]
    assert missed == []


def test_entity_patterns_on_typical_addresses() -> None:
    patterns = entity_patterns()
    found = extract_entities("南湖春晓小区3-2-501,电话139 1234 5678,2024年花了1500块", patterns)
    assert ("compound", "南湖春晓小区") in found
    assert {("building", "3"), ("unit", "2"), ("room", "501")} <= found
    assert ("phone", "139 1234 5678") in found
    assert not any(name == "room" and value in {"2024", "1500"} for name, value in found)


def test_compound_lookup_has_every_name_and_alias_of_the_registry() -> None:
    generate_compound_lookup()
    lookup = next(i for i in load_items(COMPOUND_LOOKUP) if i.kind == "lookup")
    assert lookup.name == "compound"
    with COMPOUNDS_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            assert row["name"] in lookup.lines
            for alias in filter(None, row["aliases"].split("|")):
                assert alias in lookup.lines
    # longest first, so the full name wins over an alias it contains
    assert lookup.lines.index("南湖春晓小区") < lookup.lines.index("南湖春晓")


def test_model_hash_is_stable() -> None:
    assert model_hash() == model_hash()


def test_model_hash_covers_the_custom_components() -> None:
    # their code shapes the model as much as config.yml does: a change must retrain
    components = sorted(COMPONENTS_DIR.glob("*.py"))
    assert {p.name for p in components} >= {"char_tfidf.py", "linear_blend.py"}
    assert set(components) <= set(model_inputs())


def test_model_hash_covers_normalisation_and_place_masking() -> None:
    # every training example goes through them: a change to the masking must retrain
    assert {NLU_DIR / "normalize.py", NLU_DIR / "places.py"} <= set(model_inputs())
