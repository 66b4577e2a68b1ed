"""The training data: coverage, duplicates, held-out separation, entity patterns, the lookup."""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

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


def _copy_model_inputs(to: Path) -> tuple[Path, Path]:
    """A copy of nlu/'s model inputs and of the compound registry, for editing without harm."""
    nlu_dir = to / "nlu"
    for path in model_inputs():
        copy = nlu_dir / path.relative_to(NLU_DIR)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    compounds_csv = to / "compounds.csv"
    shutil.copy2(COMPOUNDS_CSV, compounds_csv)
    return nlu_dir, compounds_csv


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8") + text, "utf-8")


def _replace(path: Path, old: str, new: str) -> None:
    content = path.read_text("utf-8")
    assert old in content, f"{old!r} not in {path.name}: update this test's edit"
    path.write_text(content.replace(old, new, 1), "utf-8")


# One edit of each kind of input that shapes the model; each must lead to a new model.
MODEL_INPUT_EDITS = {
    "a training example": lambda nlu, csv: _replace(
        nlu / "data" / "general.yml", "    - 早上好\n", "    - 早上好\n    - 中午好\n"
    ),
    "a new training file": lambda nlu, csv: (nlu / "data" / "new.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 中午好\n', "utf-8"
    ),
    "a pipeline setting": lambda nlu, csv: _replace(nlu / "config.yml", "epochs: 30", "epochs: 31"),
    "the jieba dictionary": lambda nlu, csv: _append(
        nlu / "dict" / "domain.txt", "楼道灯 2000 n\n"
    ),
    "the taxonomy": lambda nlu, csv: _replace(
        nlu / "taxonomy.yml", "zh: 供水排水", "zh: 供水与排水"
    ),
    "the compound registry": lambda nlu, csv: _append(
        csv, "heping,和平区,hp99,新华里小区,新华里,和平区新华路1号,100,1985,2027,planning,0\n"
    ),
    "a custom component": lambda nlu, csv: _append(
        nlu / "components" / "char_tfidf.py", "\nMAX_FEATURES = 1\n"
    ),
    "normalisation": lambda nlu, csv: _append(nlu / "normalize.py", "\nEXTRA = 1\n"),
    "place masking": lambda nlu, csv: _append(nlu / "places.py", "\nEXTRA = 1\n"),
    "the pinned Rasa": lambda nlu, csv: (nlu / "constraints.txt").write_text(
        re.sub(r"(?m)^rasa==.*$", "rasa==3.6.0", (nlu / "constraints.txt").read_text("utf-8"))
    ),
}


def test_model_hash_does_not_depend_on_where_the_inputs_are(tmp_path: Path) -> None:
    # worktrees share nlu/models: the same inputs elsewhere must find the same model
    nlu_dir, compounds_csv = _copy_model_inputs(tmp_path)
    assert model_hash(nlu_dir=nlu_dir, compounds_csv=compounds_csv) == model_hash()


@pytest.mark.parametrize("edit", MODEL_INPUT_EDITS.values(), ids=MODEL_INPUT_EDITS.keys())
def test_model_hash_changes_when_an_input_changes(
    tmp_path: Path, edit: Callable[[Path, Path], object]
) -> None:
    nlu_dir, compounds_csv = _copy_model_inputs(tmp_path)
    before = model_hash(nlu_dir=nlu_dir, compounds_csv=compounds_csv)
    edit(nlu_dir, compounds_csv)
    assert model_hash(nlu_dir=nlu_dir, compounds_csv=compounds_csv) != before


def test_model_hash_ignores_what_does_not_shape_the_model(tmp_path: Path) -> None:
    nlu_dir, compounds_csv = _copy_model_inputs(tmp_path)
    before = model_hash(nlu_dir=nlu_dir, compounds_csv=compounds_csv)
    for path in model_inputs(nlu_dir):  # touched, not changed: no retraining
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (nlu_dir / "reports").mkdir()
    (nlu_dir / "reports" / "eval-report.md").write_text("# a new evaluation\n", "utf-8")
    (nlu_dir / "README.md").write_text("notes\n", "utf-8")
    # a stale generated lookup is regenerated from the registry, not trusted
    (nlu_dir / "data" / "compounds.generated.yml").write_text("stale\n", "utf-8")
    assert model_hash(nlu_dir=nlu_dir, compounds_csv=compounds_csv) == before


def test_model_hash_covers_the_custom_components() -> None:
    # their code shapes the model as much as config.yml does: a change must retrain
    components = sorted(COMPONENTS_DIR.glob("*.py"))
    assert {p.name for p in components} >= {"char_tfidf.py", "linear_blend.py"}
    assert set(components) <= set(model_inputs())


def test_model_hash_covers_normalisation_and_place_masking() -> None:
    # every training example goes through them: a change to the masking must retrain
    assert {NLU_DIR / "normalize.py", NLU_DIR / "places.py"} <= set(model_inputs())
