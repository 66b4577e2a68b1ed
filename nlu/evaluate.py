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
import hashlib
import importlib.util
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
    MODELS_DIR,
    NLU_DIR,
    RASA_PYTHON,
    REPORTS_DIR,
    ROOT,
    TESTS_DIR,
    ensure_model,
    model_hash,
    rasa_env,
    require_rasa,
)
from nlu.normalize import cap, for_nlu, normalize
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

FOLDS = 5
SEED = 2024
FALLBACK = "nlu_fallback"
DIET_RANKING = "diet_intent_ranking"  # set by nlu/components/linear_blend.py
REPORT = REPORTS_DIR / "eval-report.md"
CALIBRATION = REPORTS_DIR / "calibration.json"
# Rasa's parses are cached by model hash, run and texts: re-rendering the report after a change
# that does not touch the model (urgent patterns, duplicate measure, report) costs no training.
CACHE_DIR = NLU_DIR / ".build" / "eval-cache"
# The formal-register held-out set (issue #14), reported beside the chat held-out files.
FORMAL_HELDOUT = "heldout_formal.yml"
# Formal urgent cases, written in session 4 by someone who had seen neither the patterns nor
# the other NLU files. (The first formal set, scored three times, was then retired into
# tests/urgent_cases.yml: see nlu/README.md.)
URGENT_FORMAL = TESTS_DIR / "urgent_formal_2.yml"
DUPLICATE_PAIRS = TESTS_DIR / "duplicate_pairs.yml"
# The baseline of issue #14: the code before it (urgent patterns, duplicate measure) and the
# model it trained (nlu/models/<hash>.tar.gz of that commit; its columns are left out if absent).
BASELINE_REF = "8fefca2"
BASELINE_MODEL = MODELS_DIR / "6dac880f49df76d6.tar.gz"
# Calibration: the bot's confidence threshold is the lowest on this grid at which confidently
# wrong proposals stay within the target in cross-validation, with a margin for new registers.
THRESHOLDS = tuple(round(0.30 + 0.05 * i, 2) for i in range(13))  # 0.30 ... 0.90
MAX_CONFIDENTLY_WRONG = 0.03
CALIBRATION_MARGIN = 0.005


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

    @property
    def confidence(self) -> float:
        return self.ranking[0][1] if self.ranking else 0.0


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
    """Per-label precision, recall and F1 of the top intent (scikit-learn's, 0 where a label
    was never predicted or never given); the macro-F1 averages the categories with examples."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    categories = set(load_taxonomy().ids)
    gold, top = [p.gold for p in predictions], [p.top for p in predictions]
    per_label = dict.fromkeys(labels, (0.0, 0.0, 0.0, 0))
    if labels and predictions:  # scikit-learn refuses empty inputs
        columns = precision_recall_fscore_support(gold, top, labels=list(labels), zero_division=0)
        per_label = {
            label: (float(p), float(r), float(f), int(n))
            for label, p, r, f, n in zip(labels, *columns, strict=True)
        }
    scored_categories = [c for c in labels if c in categories and per_label[c][3]]
    macro = (
        float(f1_score(gold, top, labels=scored_categories, average="macro", zero_division=0))
        if scored_categories
        else 0.0
    )
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
    items: list[Item] = []
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
# A run as JSON, exchanged with rasa_worker.py: {"name", "model" | "train_dir", "texts", ...}
# going in, {"name", "model", "train_seconds", "parses"} coming back.
RasaRun = dict[str, Any]


def _run_key(run: RasaRun, current_hash: str) -> str:
    """Cache key of a run: the model (trained from the current inputs, or a model file) and the
    texts it parses."""
    model = str(run.get("model") or f"{current_hash}/{run['name']}")
    payload = json.dumps([Path(model).name, model, run["texts"]], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def run_rasa_cached(runs: list[RasaRun], workdir: Path) -> list[RasaRun]:
    """``run_rasa`` for the runs whose parses are not cached yet; the others from the cache."""
    current = model_hash()
    keys = [_run_key(run, current) for run in runs]
    results: dict[str, RasaRun] = {}
    for key in keys:
        path = CACHE_DIR / f"{key}.json"
        if path.exists():
            results[key] = json.loads(path.read_text("utf-8"))
    missing = [(key, run) for key, run in zip(keys, runs, strict=True) if key not in results]
    if missing:
        fresh = run_rasa([run for _, run in missing], workdir)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for (key, _), result in zip(missing, fresh, strict=True):
            result = {**result, "cached": False}
            (CACHE_DIR / f"{key}.json").write_text(json.dumps(result, ensure_ascii=False), "utf-8")
            results[key] = result
    print(f"rasa runs: {len(missing)} new, {len(runs) - len(missing)} cached", file=sys.stderr)
    return [results[key] for key in keys]


def run_rasa(runs: list[RasaRun], workdir: Path) -> list[RasaRun]:
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
    runs_done: list[RasaRun] = json.loads((workdir / "rasa-results.json").read_text("utf-8"))[
        "runs"
    ]
    return runs_done


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


# --- the measures of issue #14 (real residents' letters) -------------------------------------
@dataclass
class FieldScores:
    """What a resident experiences: the first proposal, the buttons, the confident mistakes."""

    in_scope: int  # demands of a real category (not `other`)
    first_correct: float  # the first-ranked category is right
    category_set_correct: float  # Rasa set a category (no nlu_fallback) and it is right
    top3: float  # the right category is among the three buttons
    proposed: float  # confidence >= threshold: a one-tap proposal
    confidently_wrong: float  # proposed and wrong, share of all in-scope demands
    others: int  # gold `other`
    other_recognised: float  # ranked `other` first
    threshold: float


def field_scores(predictions: Sequence[Prediction], threshold: float) -> FieldScores:
    categories = set(load_taxonomy().ids)
    in_scope = [p for p in predictions if p.gold in categories - {"other"}]
    others = [p for p in predictions if p.gold == "other"]
    n = max(1, len(in_scope))

    def top3(p: Prediction) -> bool:
        return p.gold in [name for name, _ in p.ranking if name in categories][:3]

    return FieldScores(
        in_scope=len(in_scope),
        first_correct=sum(p.top == p.gold for p in in_scope) / n,
        category_set_correct=sum(not p.fallback and p.top == p.gold for p in in_scope) / n,
        top3=sum(map(top3, in_scope)) / n,
        proposed=sum(p.confidence >= threshold for p in in_scope) / n,
        confidently_wrong=sum(p.confidence >= threshold and p.top != p.gold for p in in_scope) / n,
        others=len(others),
        other_recognised=sum(p.top == "other" for p in others) / max(1, len(others)),
        threshold=threshold,
    )


def calibrate(cv: Sequence[Prediction]) -> dict[str, Any]:
    """The bot's threshold from cross-validation: the lowest on the grid whose confidently wrong
    share stays within MAX_CONFIDENTLY_WRONG minus a margin (a new register is harder)."""
    limit = MAX_CONFIDENTLY_WRONG - CALIBRATION_MARGIN
    table, within = [], []
    for t in THRESHOLDS:
        f = field_scores(cv, t)
        if round(f.confidently_wrong, 4) <= limit:
            within.append(t)
        table.append(
            {"threshold": t, "proposed": round(f.proposed, 4),
             "confidently_wrong": round(f.confidently_wrong, 4),
             "proposal_precision": round(1 - f.confidently_wrong / f.proposed, 4)
             if f.proposed else None}
        )  # fmt: skip
    chosen = within[0] if within else THRESHOLDS[-1]
    return {
        "bot_threshold": chosen,
        "target_confidently_wrong": MAX_CONFIDENTLY_WRONG,
        "margin": CALIBRATION_MARGIN,
        "source": f"{FOLDS}-fold cross-validation over nlu/data (in-scope demands)",
        "table": table,
    }


# --- baseline code (before issue #14) --------------------------------------------------------
def baseline_module(path: str, name: str) -> Any | None:
    """``path`` as it was at BASELINE_REF, imported under ``name`` (None without git history)."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BASELINE_REF}:{path}"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{BASELINE_REF}:{path}", "exec"), module.__dict__)
    return module


@dataclass
class UrgentScores:
    caught: int
    urgent: int
    false_alarms: int
    not_urgent: int
    missed_texts: list[str]
    false_alarm_texts: list[str]


def urgent_scores(path: Path, detect: Any) -> UrgentScores | None:
    if not path.exists():
        return None
    cases = urgent_cases(path)
    missed = [t for t in cases.urgent if not detect(t)]
    alarms = [t for t in cases.not_urgent if detect(t)]
    return UrgentScores(
        caught=len(cases.urgent) - len(missed), urgent=len(cases.urgent),
        false_alarms=len(alarms), not_urgent=len(cases.not_urgent),
        missed_texts=missed, false_alarm_texts=alarms,
    )  # fmt: skip


@dataclass
class PairScores:
    pairs: int
    same: int
    offered: int
    precision: float
    recall: float
    offered_by_label: Counter[str]


def load_pairs(path: Path) -> list[dict[str, str]]:
    import yaml

    raw = yaml.safe_load(path.read_text("utf-8")) if path.exists() else None
    if isinstance(raw, dict):
        raw = raw.get("pairs") or next((v for v in raw.values() if isinstance(v, list)), [])
    return [p for p in raw or [] if isinstance(p, dict) and p.get("a") and p.get("b")]


def pair_scores(pairs: Sequence[dict[str, str]], offer: Any) -> PairScores:
    """Precision and recall of the duplicate offer over labelled pairs (positive: ``same``)."""
    offered = [
        p
        for p in pairs
        if offer(normalize(str(p["a"])), normalize(str(p["b"])), str(p.get("category") or ""))
    ]
    same = [p for p in pairs if p.get("label") == "same"]
    hits = sum(p.get("label") == "same" for p in offered)
    return PairScores(
        pairs=len(pairs), same=len(same), offered=len(offered),
        precision=hits / len(offered) if offered else 0.0,
        recall=hits / len(same) if same else 0.0,
        offered_by_label=Counter(str(p.get("label")) for p in offered),
    )  # fmt: skip


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _field_rows(columns: Sequence[tuple[str, FieldScores | None]]) -> list[str]:
    def cell(f: FieldScores | None, get: Any, fmt: Any = "{:.3f}".format) -> str:
        return "—" if f is None else fmt(get(f))

    rows = [
        ("in-scope demands", "", lambda f: f.in_scope, str),
        ("in-scope: first-ranked category correct", "≥ 0.88", lambda f: f.first_correct, None),
        ("in-scope: `category` set (not fallback) and correct", "≥ 0.80",
         lambda f: f.category_set_correct, None),
        ("in-scope: correct category among the top 3", "≥ 0.96", lambda f: f.top3, None),
        ("in-scope: one-tap proposal (confidence ≥ threshold)", "", lambda f: f.proposed, _pct),
        ("confidently wrong (≥ threshold, wrong category), share of in-scope", "≤ 3%",
         lambda f: f.confidently_wrong, _pct),
        ("`other` demands", "", lambda f: f.others, str),
        ("out-of-scope (`other`) recognised as such", "≥ 0.85", lambda f: f.other_recognised, None),
    ]  # fmt: skip
    lines = [
        "| measure | target | " + " | ".join(name for name, _ in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for label, target, get, fmt in rows:
        cells = [cell(f, get, fmt or "{:.3f}".format) for _, f in columns]
        lines.append(f"| {label} | {target} | " + " | ".join(cells) + " |")
    return lines


def evaluate(report: Path = REPORT) -> dict[str, float]:  # noqa: C901 - one report, top to bottom
    require_rasa()
    started = time.monotonic()
    taxonomy = load_taxonomy()
    train = normalized_examples(training_examples())
    heldout_raw = heldout_examples()
    heldout = normalized_examples(heldout_raw)
    # what the baseline model was sent: normalised and capped, place names not masked
    unmasked = {for_nlu(e.text): cap(normalize(e.text)) for e in heldout_raw}
    chat = [i for i, e in enumerate(heldout) if e.source != FORMAL_HELDOUT]
    formal = [i for i, e in enumerate(heldout) if e.source == FORMAL_HELDOUT]
    labels = [*taxonomy.ids, *CONVERSATION_INTENTS]
    folds = make_folds(train)
    model = ensure_model()
    with_baseline = BASELINE_MODEL.exists()

    (NLU_DIR / ".build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nlu-eval-", dir=NLU_DIR / ".build") as tmp:
        workdir = Path(tmp)
        runs: list[RasaRun] = []
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
        if with_baseline:
            runs.append(
                {"name": "baseline-model", "model": str(BASELINE_MODEL),
                 "texts": [unmasked.get(e.text, e.text) for e in heldout]}
            )  # fmt: skip
        results = run_rasa_cached(runs, workdir)

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
    held_all = rasa_predictions(heldout, results[FOLDS]["parses"])
    held_before_all = (
        rasa_predictions(heldout, results[FOLDS + 1]["parses"]) if with_baseline else None
    )
    held_rasa = [held_all[i] for i in chat]
    held_diet = [rasa_predictions(heldout, results[FOLDS]["parses"], DIET_RANKING)[i] for i in chat]
    chat_examples = [heldout[i] for i in chat]
    held_base = Baseline().fit(train).predict(chat_examples)
    held_char = CharReference().fit(train).predict(chat_examples)

    s_cv, b_cv, c_cv = score(cv_rasa, labels), score(cv_base, labels), score(cv_char, labels)
    s_held, b_held = score(held_rasa, labels), score(held_base, labels)
    c_held = score(held_char, labels)
    d_cv, d_held = score(cv_diet, labels), score(held_diet, labels)

    # calibration (cross-validation only) and the field measures at the chosen threshold
    calibration = calibrate(cv_rasa)
    threshold = float(calibration["bot_threshold"])
    calibration["model"] = model.name
    report.parent.mkdir(parents=True, exist_ok=True)
    CALIBRATION.write_text(json.dumps(calibration, indent=2) + "\n", "utf-8")
    pick = lambda preds, idx: [preds[i] for i in idx] if preds is not None else None  # noqa: E731
    fields = {
        (name, who): field_scores(preds, t) if preds else None
        for name, idx in (("chat", chat), ("formal", formal))
        for who, preds, t in (
            ("now", pick(held_all, idx), threshold),
            ("before", pick(held_before_all, idx), 0.6),
        )
    }
    cv_fields = field_scores(cv_rasa, threshold)

    # urgent patterns: now and before, on the chat cases and the formal ones
    from nlu.urgent import urgent_in as urgent_now

    urgent_before = baseline_module("nlu/urgent.py", "_baseline_urgent")
    # now: the bot's own check (normalised, places masked, the whole text: a letter's danger may
    # come after the NLU_MAX_CHARS that Rasa gets)
    now_detect = lambda t: urgent_now(t) is not None  # noqa: E731
    before_detect = (
        (lambda t: urgent_before.find_urgent(cap(normalize(t))) is not None)
        if urgent_before else None
    )  # fmt: skip
    urgent = {
        (name, who): urgent_scores(path, detect) if detect else None
        for name, path in (
            ("chat", TESTS_DIR / "urgent_cases.yml"),
            ("formal", URGENT_FORMAL),
        )
        for who, detect in (("now", now_detect), ("before", before_detect))
    }
    # flags over the held-out demands (not labelled urgent or not: most are ordinary demands)
    flagged = {
        (name, who): (sum(map(detect, texts)), len(texts)) if detect else None
        for name, texts in (
            ("chat", [e.text for e in heldout_raw if e.source != FORMAL_HELDOUT]),
            ("formal", [e.text for e in heldout_raw if e.source == FORMAL_HELDOUT]),
        )
        for who, detect in (("now", now_detect), ("before", before_detect))
    }
    cases = urgent_cases()
    caught_now = urgent[("chat", "now")]
    assert caught_now is not None  # now_detect is always there; only the baseline may be missing
    urgent_recall = caught_now.caught / max(1, len(cases.urgent))

    # duplicate offers: the semantic measure now, word overlap before
    from models import demands as demands_now

    demands_before = baseline_module("models/demands.py", "_baseline_demands")
    offers = {
        "now": lambda a, b, category: (
            demands_now.similarity(a, b, category=category or None)
            >= demands_now.SIMILARITY_THRESHOLD
        ),
    }
    if demands_before is not None:
        offers["before"] = lambda a, b, _category: (
            demands_before.similarity(a, b) >= demands_before.SIMILARITY_THRESHOLD
        )
    pair_sets = {
        "held-out (nlu/tests/duplicate_pairs.yml)": load_pairs(DUPLICATE_PAIRS),
        "tuning (nlu/lexicon/duplicate_pairs_tuning.yml)": load_pairs(demands_now.TUNING_PAIRS),
    }
    pairs = {
        (name, who): pair_scores(items, offer) if items else None
        for name, items in pair_sets.items()
        for who, offer in offers.items()
    }

    train_times = [r["train_seconds"] for r in results[:FOLDS]]
    elapsed = time.monotonic() - started
    epochs = _component_setting("DIETClassifier", "epochs")
    diet_weight = _component_setting("LinearBlendClassifier", "diet_weight")
    fallback = _component_setting("FallbackClassifier", "threshold")
    counts = Counter(e.intent for e in train)
    held_counts = Counter(e.intent for e in chat_examples)
    formal_counts = Counter(heldout[i].intent for i in formal)

    held_pairs = pairs.get(("held-out (nlu/tests/duplicate_pairs.yml)", "now"))
    f_formal, f_chat = fields[("formal", "now")], fields[("chat", "now")]
    u_formal = urgent[("formal", "now")]
    targets = [
        ("held-out chat macro-F1 ≥ 0.90", s_held.macro_f1_categories >= 0.90,
         f"{s_held.macro_f1_categories:.3f}"),
        ("held-out chat top-3 accuracy ≥ 0.98", s_held.top3_categories >= 0.98,
         f"{s_held.top3_categories:.3f}"),
        ("urgent recall 100% (chat cases)", urgent_recall == 1.0, f"{urgent_recall:.1%}"),
        ("better than the baseline (held-out chat macro-F1)",
         s_held.macro_f1_categories > b_held.macro_f1_categories,
         f"{s_held.macro_f1_categories:.3f} vs {b_held.macro_f1_categories:.3f}"),
    ]  # fmt: skip
    if f_formal is not None:
        targets += [
            ("formal: first-ranked correct ≥ 0.88", f_formal.first_correct >= 0.88,
             f"{f_formal.first_correct:.3f}"),
            ("formal: category set and correct ≥ 0.80", f_formal.category_set_correct >= 0.80,
             f"{f_formal.category_set_correct:.3f}"),
            ("formal: top-3 ≥ 0.96", f_formal.top3 >= 0.96, f"{f_formal.top3:.3f}"),
            (f"formal: confidently wrong ≤ 3% (threshold {threshold:.2f})",
             f_formal.confidently_wrong <= 0.03, _pct(f_formal.confidently_wrong)),
            ("formal: `other` recognised ≥ 0.85", f_formal.other_recognised >= 0.85,
             f"{f_formal.other_recognised:.3f}"),
        ]  # fmt: skip
    if f_chat is not None:
        targets.append(
            (f"chat: confidently wrong ≤ 3% (threshold {threshold:.2f})",
             f_chat.confidently_wrong <= 0.03, _pct(f_chat.confidently_wrong))
        )  # fmt: skip
    u_chat = urgent[("chat", "now")]
    if u_chat is not None:
        rate = u_chat.false_alarms / max(1, u_chat.not_urgent)
        targets.append(("urgent false alarms ≤ 1% (chat not_urgent)", rate <= 0.01, _pct(rate)))
    if u_formal is not None:
        targets.append(
            ("urgent recall 100% (formal cases)", u_formal.caught == u_formal.urgent,
             f"{u_formal.caught}/{u_formal.urgent}")
        )  # fmt: skip
    if held_pairs is not None:
        targets.append(
            ("duplicates: recall ≥ 0.85 at precision ≥ 0.85 (held-out pairs)",
             held_pairs.recall >= 0.85 and held_pairs.precision >= 0.85,
             f"P {held_pairs.precision:.3f}, R {held_pairs.recall:.3f}")
        )  # fmt: skip

    def urgent_cell(u: UrgentScores | None) -> str:
        if u is None:
            return "—"
        return f"{u.caught}/{u.urgent} caught, {u.false_alarms}/{u.not_urgent} false alarms"

    def pair_cell(p: PairScores | None) -> str:
        if p is None:
            return "—"
        return (
            f"P {p.precision:.3f}, R {p.recall:.3f} ({p.offered} offered of {p.pairs}; "
            f"{p.same} same; offered: "
            + ", ".join(f"{k} {v}" for k, v in sorted(p.offered_by_label.items()))
            + ")"
        )

    calib_rows = [
        "| {:.2f} | {:.1%} | {:.1%} | {} |".format(
            r["threshold"], r["proposed"], r["confidently_wrong"],
            "—" if r["proposal_precision"] is None else f"{r['proposal_precision']:.3f}",
        )
        for r in calibration["table"]
    ]  # fmt: skip
    formal_line = (
        f"; formal held-out ({FORMAL_HELDOUT}): {len(formal)} examples (min "
        f"{min(formal_counts[c] for c in taxonomy.ids)} per category)"
        if formal
        else f"; no formal held-out file ({FORMAL_HELDOUT}) yet"
    )
    lines = [
        "# NLU evaluation report",
        "",
        f"- Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- Machine: {machine()}",
        f"- Model: `{model.name}` (Rasa 3.6.21, `nlu/config.yml`, DIET {epochs} epochs blended "
        f"with a linear model, DIET weight {diet_weight}; FallbackClassifier {fallback}; place "
        "names masked, `nlu/places.py`)",
        f"- Baseline (issue #14): the code of commit `{BASELINE_REF}` — its model "
        f"`{BASELINE_MODEL.name}`{'' if with_baseline else ' (missing here: columns left out)'}, "
        "its urgent patterns and its word-overlap duplicate measure",
        f"- Training data: {len(train)} examples ({sum(counts[c] for c in taxonomy.ids)} in "
        f"{len(taxonomy.ids)} categories, min {min(counts[c] for c in taxonomy.ids)} per "
        f"category); chat held-out: {len(chat)} examples (min "
        f"{min(held_counts[c] for c in taxonomy.ids)} per category){formal_line}; "
        "held-out files are never trained on",
        f"- {FOLDS}-fold stratified cross-validation (seed {SEED}), same folds for both models; "
        f"Rasa training per fold: {', '.join(f'{t:.0f} s' for t in train_times if t)} "
        "(the machine's 2 cores were shared with other jobs); "
        f"whole evaluation {elapsed / 60:.1f} min (Rasa parses are cached by model hash)",
        "- Command: `make nlu-eval` (`python -m nlu eval`)",
        "",
        "## Targets",
        "",
        "| target | result | met |",
        "|---|---|---|",
        *[f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, ok, value in targets],
        "",
        "## Residents' view: chat and formal held-out sets, now and before (issue #14)",
        "",
        f"Now: this model, the bot proposing one category at confidence ≥ {threshold:.2f} (the "
        "threshold calibrated below). Before: the model of the baseline commit, as the bot used it "
        "(threshold 0.6, place names not masked). In-scope: demands of the 17 real categories; "
        "`other` is scored apart.",
        "",
        *_field_rows(
            [
                ("chat now", fields[("chat", "now")]),
                ("chat before", fields[("chat", "before")]),
                ("formal now", fields[("formal", "now")]),
                ("formal before", fields[("formal", "before")]),
                ("CV now", cv_fields),
            ]
        ),
        "",
        "## Calibration (cross-validation, in-scope demands)",
        "",
        f"The bot's threshold (`NLU_CONFIDENCE_THRESHOLD`) is the lowest of this grid whose "
        f"confidently wrong share stays ≤ {MAX_CONFIDENTLY_WRONG - CALIBRATION_MARGIN:.1%} "
        f"(target {MAX_CONFIDENTLY_WRONG:.0%}, minus a margin for a new register): "
        f"**{threshold:.2f}**. At it, {cv_fields.proposed:.0%} of residents get a one-tap "
        f"proposal and {1 - cv_fields.proposed:.0%} the top three (+ other). Written to "
        "`nlu/reports/calibration.json`, which `tests/nlu/test_calibration.py` pins against "
        "the bot's setting.",
        "",
        "| threshold | one-tap proposals | confidently wrong | proposal precision |",
        "|---|---|---|---|",
        *calib_rows,
        "",
        "## Urgent detection (nlu/urgent.py patterns)",
        "",
        "| cases | now | before |",
        "|---|---|---|",
        f"| chat (nlu/tests/urgent_cases.yml) | {urgent_cell(urgent[('chat', 'now')])} | "
        f"{urgent_cell(urgent[('chat', 'before')])} |",
        f"| formal ({URGENT_FORMAL.relative_to(NLU_DIR.parent)}, held out) | "
        f"{urgent_cell(urgent[('formal', 'now')])} | {urgent_cell(urgent[('formal', 'before')])} |",
        *[
            f"| flagged among the {name} held-out demands (unlabelled; nearly all ordinary) | "
            + " | ".join(
                "—"
                if (f := flagged[(name, who)]) is None or not f[1]
                else f"{f[0]}/{f[1]} ({f[0] / f[1]:.1%})"
                for who in ("now", "before")
            )
            + " |"
            for name in ("chat", "formal")
        ],
        "",
        *[f"- missed (chat): {t}" for t in (u_chat.missed_texts if u_chat else [])],
        *[f"- false alarm (chat): {t}" for t in (u_chat.false_alarm_texts if u_chat else [])],
        "",
        "## Duplicate offers (models/demands.py, same compound and category)",
        "",
        "Offered when the similarity reaches the threshold; a pair labelled `same` should be "
        "offered, `same_category_different` and `unrelated` should not.",
        "",
        "| pair set | now | before (word overlap) |",
        "|---|---|---|",
        *[
            f"| {name} | {pair_cell(pairs.get((name, 'now')))} | "
            f"{pair_cell(pairs.get((name, 'before')))} |"
            for name in pair_sets
        ],
        "",
        "## Summary (categories, chat held-out and cross-validation)",
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
        *_side_by_side(
            f"Held-out test, chat (nlu/tests/heldout_*.yml but {FORMAL_HELDOUT})",
            s_held,
            b_held,
            labels,
        ),
        "Most frequent confusions (chat held-out, Rasa):",
        "",
        *_top_confusions(s_held),
        "",
        "Confusion table (chat held-out, Rasa; rows gold, columns predicted by number):",
        "",
        *_confusion_table(s_held, labels),
        "",
    ]
    if formal:
        s_formal = score([held_all[i] for i in formal], labels)
        b_formal = score(Baseline().fit(train).predict([heldout[i] for i in formal]), labels)
        lines += [
            *_side_by_side(f"Held-out test, formal ({FORMAL_HELDOUT})", s_formal, b_formal, labels),
            "Most frequent confusions (formal held-out, Rasa):",
            "",
            *_top_confusions(s_formal),
            "",
        ]
    lines += [
        *_side_by_side(f"{FOLDS}-fold cross-validation (pooled over folds)", s_cv, b_cv, labels),
        "Most frequent confusions (cross-validation, Rasa):",
        "",
        *_top_confusions(s_cv),
        "",
    ]
    report.write_text("\n".join(lines), encoding="utf-8")
    print(f"report written to {report.relative_to(NLU_DIR.parent)}", file=sys.stderr)
    result = {
        "heldout_macro_f1": s_held.macro_f1_categories,
        "heldout_top3": s_held.top3_categories,
        "cv_macro_f1": s_cv.macro_f1_categories,
        "baseline_heldout_macro_f1": b_held.macro_f1_categories,
        "baseline_cv_macro_f1": b_cv.macro_f1_categories,
        "char_reference_heldout_macro_f1": c_held.macro_f1_categories,
        "urgent_recall": urgent_recall,
        "bot_threshold": threshold,
    }
    if f_formal is not None:
        result["formal_first_correct"] = f_formal.first_correct
    return result


def _component_setting(name: str, key: str) -> object:
    """A setting of the pipeline component whose name ends with ``name``."""
    import yaml

    config = yaml.safe_load(CONFIG.read_text("utf-8"))
    for component in config.get("pipeline", []):
        if component.get("name", "").split(".")[-1] == name:
            return component.get(key)
    return None
