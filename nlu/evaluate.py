"""``python -m nlu eval``: 5-fold cross-validation and held-out test, Rasa beside a baseline.

The same stratified folds (fixed seed) are used for Rasa and for the baseline (jieba tokens +
TF-IDF + logistic regression, scikit-learn, in the app's venv). The held-out files
(``nlu/tests/heldout_*.yml``) are never trained on: the final model trained on all of
``nlu/data`` is tested on them. Rasa runs in one worker process (``rasa_worker.py``) so that
TensorFlow is loaded once. The report goes to ``nlu/reports/eval-report.md``.

Scores use the best real intent (the top of Rasa's ranking, ``nlu_fallback`` left out): the bot
offers the top 3 categories when the confidence is low, so what matters is the ranking. How
often Rasa's FallbackClassifier fired is reported beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.model import (
    CONFIG,
    DATA_DIR,
    DICT_DIR,
    NLU_DIR,
    RASA_PYTHON,
    REPORTS_DIR,
    ensure_model,
    rasa_env,
    require_rasa,
)
from nlu.normalize import for_nlu, normalize
from nlu.places import mask_places
from nlu.taxonomy import load_taxonomy
from nlu.trainingdata import (
    CONVERSATION_INTENTS,
    Example,
    Item,
    dump_items,
    heldout_examples,
    load_items,
    normalized_items,
    training_examples,
    urgent_cases,
)
from nlu.urgent import find_urgent

FOLDS = 5
SEED = 2024
FALLBACK = "nlu_fallback"
DIET_RANKING = "diet_intent_ranking"  # set by nlu/components/linear_blend.py
REPORT = REPORTS_DIR / "eval-report.md"


@dataclass
class Prediction:
    """One test example's outcome, for Rasa or the baseline."""

    gold: str
    ranking: list[tuple[str, float]]  # real intents, best first
    fallback: bool = False
    gold_entities: frozenset[tuple[str, str]] = frozenset()
    entities: frozenset[tuple[str, str]] = frozenset()

    @property
    def top(self) -> str:
        return self.ranking[0][0] if self.ranking else ""


@dataclass
class Scores:
    per_label: dict[str, tuple[float, float, float, int]]  # precision, recall, f1, support
    macro_f1_categories: float
    accuracy: float
    top3_categories: float
    fallback_rate: float
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    entity_precision: float | None = None
    entity_recall: float | None = None


def score(predictions: Sequence[Prediction], labels: Sequence[str]) -> Scores:
    categories = set(load_taxonomy().ids)
    per_label = {}
    for label in labels:
        tp = sum(p.gold == label and p.top == label for p in predictions)
        predicted = sum(p.top == label for p in predictions)
        support = sum(p.gold == label for p in predictions)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = (precision, recall, f1, support)
    scored_categories = [c for c in labels if c in categories and per_label[c][3]]
    macro = sum(per_label[c][2] for c in scored_categories) / max(1, len(scored_categories))
    demand = [p for p in predictions if p.gold in categories]
    top3 = sum(
        p.gold in [name for name, _ in p.ranking if name in categories][:3] for p in demand
    ) / max(1, len(demand))
    gold_entities = sum(len(p.gold_entities) for p in predictions)
    found_entities = sum(len(p.entities) for p in predictions)
    correct_entities = sum(len(p.gold_entities & p.entities) for p in predictions)
    return Scores(
        per_label=per_label,
        macro_f1_categories=macro,
        accuracy=sum(p.gold == p.top for p in predictions) / max(1, len(predictions)),
        top3_categories=top3,
        fallback_rate=sum(p.fallback for p in predictions) / max(1, len(predictions)),
        confusion=Counter((p.gold, p.top) for p in predictions),
        entity_precision=correct_entities / found_entities if found_entities else None,
        entity_recall=correct_entities / gold_entities if gold_entities else None,
    )


# --- folds -----------------------------------------------------------------------------------
def normalized_examples(examples: Sequence[Example]) -> list[Example]:
    """Examples as the model sees them (normalised, place names masked, capped like every
    message: ``normalize.for_nlu``), duplicates (after normalisation) dropped."""
    seen: set[tuple[str, str]] = set()
    result = []
    for e in examples:
        text, annotated = for_nlu(e.text), mask_places(normalize(e.annotated))
        if text and (text, e.intent) not in seen:
            seen.add((text, e.intent))
            result.append(Example(text, e.intent, annotated, e.entities, e.source))
    return result


def make_folds(examples: Sequence[Example]) -> list[tuple[list[int], list[int]]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    labels = [e.intent for e in examples]
    return [(list(tr), list(te)) for tr, te in splitter.split(labels, labels)]


def non_intent_items() -> list[Item]:
    """Lookup tables, regexes and synonyms: every fold trains with all of them."""
    items = []
    for path in sorted(DATA_DIR.glob("*.yml")):
        items.extend(i for i in load_items(path) if i.kind != "intent")
    return items


def write_fold_data(directory: Path, examples: Sequence[Example]) -> None:
    by_intent: dict[str, list[str]] = {}
    for e in examples:
        by_intent.setdefault(e.intent, []).append(e.annotated)
    items = [Item("intent", name, tuple(lines)) for name, lines in by_intent.items()]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train.yml").write_text(
        dump_items(normalized_items(items + non_intent_items())), "utf-8"
    )


# --- Rasa ------------------------------------------------------------------------------------
def run_rasa(runs: list[dict[str, object]], workdir: Path) -> list[dict[str, object]]:
    job = {"config": str(CONFIG), "runs": runs, "out": str(workdir / "rasa-results.json")}
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps(job, ensure_ascii=False), "utf-8")
    subprocess.run(
        [str(RASA_PYTHON), str(NLU_DIR / "rasa_worker.py"), str(job_file)],
        cwd=NLU_DIR,
        # no training cache: every fold really trains, and the reported times are true
        env={**rasa_env(), "RASA_MAX_CACHE_SIZE": "0"},
        check=True,
    )
    return json.loads((workdir / "rasa-results.json").read_text("utf-8"))["runs"]


def rasa_predictions(
    tests: Sequence[Example], parses: Sequence[dict], ranking_key: str = "intent_ranking"
) -> list[Prediction]:
    """Predictions from Rasa's parses; ``diet_intent_ranking`` gives DIET's before the blend."""
    predictions = []
    for example, parse in zip(tests, parses, strict=True):
        ranking = [
            (r["name"], float(r["confidence"])) for r in parse[ranking_key] if r["name"] != FALLBACK
        ]
        ranking.sort(key=lambda r: r[1], reverse=True)
        predictions.append(
            Prediction(
                gold=example.intent,
                ranking=ranking,
                fallback=(parse.get("intent") or {}).get("name") == FALLBACK,
                gold_entities=frozenset(example.entities),
                entities=frozenset((e["entity"], e["value"]) for e in parse["entities"]),
            )
        )
    return predictions


# --- baseline --------------------------------------------------------------------------------
class Baseline:
    """jieba tokens (same user dictionaries) + TF-IDF + logistic regression."""

    def __init__(self) -> None:
        import jieba
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        for dictionary in sorted(DICT_DIR.glob("*")):
            jieba.load_userdict(str(dictionary))
        self.pipeline = make_pipeline(
            TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, lowercase=False),
            LogisticRegression(C=10.0, max_iter=2000, random_state=SEED),
        )

    def fit(self, examples: Sequence[Example]) -> Baseline:
        self.pipeline.fit([e.text for e in examples], [e.intent for e in examples])
        return self

    def _scores(self, texts: list[str]) -> Any:
        """One row per text, one column per class; higher is more likely."""
        return self.pipeline.predict_proba(texts)

    def predict(self, tests: Sequence[Example]) -> list[Prediction]:
        scores = self._scores([e.text for e in tests])
        classes = list(self.pipeline.classes_)
        return [
            Prediction(
                gold=e.intent,
                ranking=sorted(zip(classes, map(float, row), strict=True), key=lambda r: -r[1]),
            )
            for e, row in zip(tests, scores, strict=True)
        ]


class CharReference(Baseline):
    """Character 1-2-gram TF-IDF + linear SVM: a strong simple reference, not the spec baseline."""

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC

        self.pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True),
            LinearSVC(C=1.0, random_state=SEED),
        )

    def _scores(self, texts: list[str]) -> Any:
        return self.pipeline.decision_function(texts)  # an SVM has margins, not probabilities


# --- machine and report ----------------------------------------------------------------------
def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        ram = "unknown RAM"
    return f"{os.cpu_count()} CPUs (nproc), {cpu}, {ram}, {platform.system()} {platform.release()}"


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _side_by_side(title: str, rasa: Scores, base: Scores, labels: Sequence[str]) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| | Rasa (DIET + linear blend) | baseline (TF-IDF + LR) |",
        "|---|---|---|",
        f"| macro-F1 over the {len(load_taxonomy().ids)} categories | "
        f"**{rasa.macro_f1_categories:.3f}** | {base.macro_f1_categories:.3f} |",
        f"| accuracy (all intents) | {rasa.accuracy:.3f} | {base.accuracy:.3f} |",
        f"| top-3 accuracy (demand categories) | **{rasa.top3_categories:.3f}** | "
        f"{base.top3_categories:.3f} |",
        f"| nlu_fallback fired | {rasa.fallback_rate:.1%} | — |",
        f"| entities precision / recall | {_f(rasa.entity_precision)} / "
        f"{_f(rasa.entity_recall)} | — |",
        "",
        "| intent | support | Rasa P | Rasa R | Rasa F1 | baseline F1 |",
        "|---|---|---|---|---|---|",
    ]
    for label in labels:
        p, r, f1, support = rasa.per_label[label]
        base_f1 = base.per_label[label][2]
        lines.append(f"| {label} | {support} | {p:.2f} | {r:.2f} | {f1:.2f} | {base_f1:.2f} |")
    return [*lines, ""]


def _confusion_table(scores: Scores, labels: Sequence[str]) -> list[str]:
    index = {label: i + 1 for i, label in enumerate(labels)}
    header = "| gold \\ predicted | " + " | ".join(str(index[x]) for x in labels) + " |"
    lines = [header, "|---" * (len(labels) + 1) + "|"]
    for gold in labels:
        cells = []
        for predicted in labels:
            n = scores.confusion.get((gold, predicted), 0)
            cells.append(f"**{n}**" if gold == predicted else (str(n) if n else "·"))
        lines.append(f"| {index[gold]} {gold} | " + " | ".join(cells) + " |")
    return lines


def _top_confusions(scores: Scores, limit: int = 12) -> list[str]:
    pairs = [(n, g, p) for (g, p), n in scores.confusion.items() if g != p]
    pairs.sort(reverse=True)
    return [f"- {g} → {p}: {n}" for n, g, p in pairs[:limit]] or ["- none"]


def evaluate(report: Path = REPORT) -> dict[str, float]:
    require_rasa()
    started = time.monotonic()
    taxonomy = load_taxonomy()
    train = normalized_examples(training_examples())
    heldout = normalized_examples(heldout_examples())
    labels = [*taxonomy.ids, *CONVERSATION_INTENTS]
    folds = make_folds(train)
    model = ensure_model()

    with tempfile.TemporaryDirectory(prefix="nlu-eval-", dir=NLU_DIR / ".build") as tmp:
        workdir = Path(tmp)
        runs: list[dict[str, object]] = []
        for k, (train_idx, _) in enumerate(folds, start=1):
            fold_dir = workdir / f"fold{k}"
            write_fold_data(fold_dir / "data", [train[i] for i in train_idx])
            runs.append(
                {
                    "name": f"fold{k}",
                    "train_dir": str(fold_dir / "data"),
                    "model_dir": str(fold_dir),
                    "texts": [train[i].text for i in folds[k - 1][1]],
                }
            )
        runs.append({"name": "heldout", "model": str(model), "texts": [e.text for e in heldout]})
        results = run_rasa(runs, workdir)

    cv_rasa: list[Prediction] = []
    cv_diet: list[Prediction] = []
    cv_base: list[Prediction] = []
    cv_char: list[Prediction] = []
    for (train_idx, test_idx), result in zip(folds, results[:FOLDS], strict=True):
        tests = [train[i] for i in test_idx]
        cv_rasa += rasa_predictions(tests, result["parses"])
        cv_diet += rasa_predictions(tests, result["parses"], DIET_RANKING)
        cv_base += Baseline().fit([train[i] for i in train_idx]).predict(tests)
        cv_char += CharReference().fit([train[i] for i in train_idx]).predict(tests)
    held_rasa = rasa_predictions(heldout, results[FOLDS]["parses"])
    held_diet = rasa_predictions(heldout, results[FOLDS]["parses"], DIET_RANKING)
    held_base = Baseline().fit(train).predict(heldout)
    held_char = CharReference().fit(train).predict(heldout)

    s_cv, b_cv, c_cv = score(cv_rasa, labels), score(cv_base, labels), score(cv_char, labels)
    s_held, b_held = score(held_rasa, labels), score(held_base, labels)
    c_held = score(held_char, labels)
    d_cv, d_held = score(cv_diet, labels), score(held_diet, labels)

    cases = urgent_cases()
    caught = [t for t in cases.urgent if find_urgent(normalize(t))]
    missed = [t for t in cases.urgent if not find_urgent(normalize(t))]
    false_alarms = [t for t in cases.not_urgent if find_urgent(normalize(t))]
    urgent_recall = len(caught) / len(cases.urgent) if cases.urgent else 0.0

    train_times = [r["train_seconds"] for r in results[:FOLDS]]
    elapsed = time.monotonic() - started
    epochs = _component_setting("DIETClassifier", "epochs")
    diet_weight = _component_setting("LinearBlendClassifier", "diet_weight")
    counts = Counter(e.intent for e in train)
    held_counts = Counter(e.intent for e in heldout)

    targets = [
        ("held-out macro-F1 ≥ 0.90", s_held.macro_f1_categories >= 0.90,
         f"{s_held.macro_f1_categories:.3f}"),
        ("held-out top-3 accuracy ≥ 0.98", s_held.top3_categories >= 0.98,
         f"{s_held.top3_categories:.3f}"),
        ("urgent recall 100%", urgent_recall == 1.0, f"{urgent_recall:.1%}"),
        ("better than the baseline (held-out macro-F1)",
         s_held.macro_f1_categories > b_held.macro_f1_categories,
         f"{s_held.macro_f1_categories:.3f} vs {b_held.macro_f1_categories:.3f}"),
    ]  # fmt: skip
    lines = [
        "# NLU evaluation report",
        "",
        f"- Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Machine: {machine()}",
        f"- Model: `{model.name}` (Rasa 3.6.21, `nlu/config.yml`, DIET {epochs} epochs blended "
        f"with a linear model, DIET weight {diet_weight})",
        f"- Training data: {len(train)} examples ({sum(counts[c] for c in taxonomy.ids)} in "
        f"{len(taxonomy.ids)} categories, min {min(counts[c] for c in taxonomy.ids)} per "
        f"category); held-out: {len(heldout)} examples (min "
        f"{min(held_counts[c] for c in taxonomy.ids)} per category), never trained on",
        f"- {FOLDS}-fold stratified cross-validation (seed {SEED}), same folds for both models; "
        f"Rasa training per fold: {', '.join(f'{t:.0f} s' for t in train_times)}; "
        f"whole evaluation {elapsed / 60:.1f} min",
        "- Command: `make nlu-eval` (`python -m nlu eval`)",
        "",
        "## Targets",
        "",
        "| target | result | met |",
        "|---|---|---|",
        *[f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, ok, value in targets],
        "",
        "## Summary",
        "",
        "| | CV Rasa | CV DIET alone | CV baseline | CV char ref. | held-out Rasa "
        "| held-out DIET alone | held-out baseline | held-out char ref. |",
        "|---|---|---|---|---|---|---|---|---|",
        *[
            f"| {name} | {get(s_cv):.3f} | {get(d_cv):.3f} | {get(b_cv):.3f} | {get(c_cv):.3f} "
            f"| {get(s_held):.3f} | {get(d_held):.3f} | {get(b_held):.3f} | {get(c_held):.3f} |"
            for name, get in (
                ("macro-F1 (categories)", lambda s: s.macro_f1_categories),
                ("accuracy (all intents)", lambda s: s.accuracy),
                ("top-3 (categories)", lambda s: s.top3_categories),
            )
        ],
        "",
        "Rasa: the whole pipeline of `nlu/config.yml` (DIET blended with a linear model over "
        "character TF-IDF features, `nlu/components/linear_blend.py`). DIET alone: DIET's own "
        "ranking in the same runs, before the blend. "
        "Baseline: jieba tokens + TF-IDF + logistic regression (the issue's baseline). "
        "Char ref.: character 1-2-gram TF-IDF + linear SVM, a simple reference added to show "
        "how far plain character features go on this data.",
        "",
        "## Urgent detection (nlu/urgent.py patterns, over nlu/tests/urgent_cases.yml)",
        "",
        f"- Recall: {len(caught)}/{len(cases.urgent)} = {urgent_recall:.1%}",
        f"- False alarms on `not_urgent`: {len(false_alarms)}/{len(cases.not_urgent)}",
        *[f"  - missed: {t}" for t in missed],
        *[f"  - false alarm: {t}" for t in false_alarms],
        "",
        *_side_by_side("Held-out test (nlu/tests/heldout_*.yml)", s_held, b_held, labels),
        "Most frequent confusions (held-out, Rasa):",
        "",
        *_top_confusions(s_held),
        "",
        "Confusion table (held-out, Rasa; rows gold, columns predicted by number):",
        "",
        *_confusion_table(s_held, labels),
        "",
        *_side_by_side(f"{FOLDS}-fold cross-validation (pooled over folds)", s_cv, b_cv, labels),
        "Most frequent confusions (cross-validation, Rasa):",
        "",
        *_top_confusions(s_cv),
        "",
    ]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines), encoding="utf-8")
    print(f"report written to {report.relative_to(NLU_DIR.parent)}", file=sys.stderr)
    return {
        "heldout_macro_f1": s_held.macro_f1_categories,
        "heldout_top3": s_held.top3_categories,
        "cv_macro_f1": s_cv.macro_f1_categories,
        "baseline_heldout_macro_f1": b_held.macro_f1_categories,
        "baseline_cv_macro_f1": b_cv.macro_f1_categories,
        "char_reference_heldout_macro_f1": c_held.macro_f1_categories,
        "urgent_recall": urgent_recall,
    }


def _component_setting(name: str, key: str) -> object:
    """A setting of the pipeline component whose name ends with ``name``."""
    import yaml

    config = yaml.safe_load(CONFIG.read_text("utf-8"))
    for component in config.get("pipeline", []):
        if component.get("name", "").split(".")[-1] == name:
            return component.get(key)
    return None
