"""Model lifecycle: where things live, the generated compound lookup, the model hash, training.

A trained model is ``nlu/models/<hash>.tar.gz`` where the hash covers everything that shapes it
(config, training data, jieba dictionary, custom components, normalisation and place masking,
taxonomy, the compound lookup generated from the registry, the pinned Rasa version).
``ensure_model()`` trains only when that file is missing, so ``make`` is cheap when nothing
changed and a changed example always leads to a new model.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)

NLU_DIR = Path(__file__).resolve().parent
ROOT = NLU_DIR.parent
CONFIG = NLU_DIR / "config.yml"
DATA_DIR = NLU_DIR / "data"
DICT_DIR = NLU_DIR / "dict"
# Custom Rasa components, imported as `components.<module>.<Class>`: Rasa runs in nlu/.
COMPONENTS_DIR = NLU_DIR / "components"
TESTS_DIR = NLU_DIR / "tests"
MODELS_DIR = NLU_DIR / "models"
REPORTS_DIR = NLU_DIR / "reports"
TAXONOMY = NLU_DIR / "taxonomy.yml"
REQUIREMENTS = NLU_DIR / "requirements.txt"
CONSTRAINTS = NLU_DIR / "constraints.txt"
VENV = NLU_DIR / ".venv"
RASA = VENV / "bin" / "rasa"
RASA_PYTHON = VENV / "bin" / "python"
COMPOUNDS_CSV = ROOT / "data" / "demo" / "compounds.csv"
# What Rasa actually trains on: nlu/data with every example normalised (see trainingdata.py).
BUILD_DATA = NLU_DIR / ".build" / "data"

# Generated from the compound registry at training time (ignored by git, see nlu/.gitignore).
COMPOUND_LOOKUP = DATA_DIR / "compounds.generated.yml"
COMPOUND_DICT = DICT_DIR / "compounds.generated.txt"

# Environment for every Rasa subprocess: no telemetry, quiet TensorFlow, deterministic hashing.
RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONHASHSEED": "0",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}


def rasa_env() -> dict[str, str]:
    return {**os.environ, **RASA_ENV}


def require_rasa() -> None:
    if not RASA.exists():
        raise SystemExit(f"error: {RASA} not found; run `make nlu-venv` first")


def compound_names(csv_path: Path = COMPOUNDS_CSV) -> list[str]:
    """Every compound name and alias in the registry (aliases are ``|``-separated), sorted."""
    names: set[str] = set()
    with csv_path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            names.add(row["name"].strip())
            names.update(a.strip() for a in (row.get("aliases") or "").split("|"))
    names.discard("")
    return sorted(names)


def _write_if_changed(path: Path, content: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def _within(nlu_dir: Path, path: Path) -> Path:
    """``path`` (a place under nlu/) inside ``nlu_dir``, another copy of nlu/ (the tests' copy)."""
    return nlu_dir / path.relative_to(NLU_DIR)


def generate_compound_lookup(
    csv_path: Path = COMPOUNDS_CSV, *, nlu_dir: Path = NLU_DIR
) -> list[str]:
    """Write the ``compound`` lookup table and its jieba dictionary from the registry."""
    names = compound_names(csv_path)
    # Longest first: the regex alternation then prefers 南湖春晓小区 over 南湖春晓.
    ordered = sorted(names, key=lambda n: (-len(n), n))
    lookup = (
        "# Generated from data/demo/compounds.csv by nlu/model.py; do not edit.\n"
        'version: "3.1"\n'
        "nlu:\n"
        "- lookup: compound\n"
        "  examples: |\n" + "".join(f"    - {name}\n" for name in ordered)
    )
    _write_if_changed(_within(nlu_dir, COMPOUND_LOOKUP), lookup)
    # jieba user dictionary: "word frequency tag"; a high frequency keeps the name in one token.
    _write_if_changed(
        _within(nlu_dir, COMPOUND_DICT), "".join(f"{name} 2000 ns\n" for name in names)
    )
    return names


def model_inputs(nlu_dir: Path = NLU_DIR) -> list[Path]:
    """Every file whose content shapes the trained model, in a stable order."""
    data_dir, dict_dir = _within(nlu_dir, DATA_DIR), _within(nlu_dir, DICT_DIR)
    files = [_within(nlu_dir, p) for p in (CONFIG, TAXONOMY, REQUIREMENTS, CONSTRAINTS)]
    files += sorted(Path(p) for p in glob.glob(str(data_dir / "**" / "*.yml"), recursive=True))
    files += sorted(Path(p) for p in glob.glob(str(dict_dir / "*")))
    # custom pipeline components: code is config
    files += sorted(_within(nlu_dir, COMPONENTS_DIR).glob("*.py"))
    # what every example goes through before Rasa sees it (normalised, place names masked)
    files += [nlu_dir / "normalize.py", nlu_dir / "places.py"]
    return files


def model_hash(*, nlu_dir: Path = NLU_DIR, compounds_csv: Path = COMPOUNDS_CSV) -> str:
    """Hash of config, data, dictionaries, taxonomy, pinned Rasa, generated lookup (made first).

    Paths enter the hash relative to ``nlu_dir``: two checkouts of the same inputs share a model.
    """
    generate_compound_lookup(compounds_csv, nlu_dir=nlu_dir)
    digest = hashlib.sha256()
    for path in model_inputs(nlu_dir):
        digest.update(path.relative_to(nlu_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(hash_: str | None = None) -> Path:
    """Path of the model for the current inputs (it may not exist yet)."""
    return MODELS_DIR / f"{hash_ or model_hash()}.tar.gz"


def train(out: Path | None = None) -> Path:
    """Train the NLU model with ``rasa train nlu`` on the normalised copy of the data.

    Runs in nlu/ so that Rasa's caches (.rasa/) and the relative jieba dictionary path stay there.
    """
    from nlu.trainingdata import build_training_dir

    require_rasa()
    out = out or model_path()
    build_training_dir(BUILD_DATA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(RASA), "train", "nlu",
        "--config", str(CONFIG),
        "--nlu", str(BUILD_DATA),
        "--out", str(out.parent),
        "--fixed-model-name", out.name.removesuffix(".tar.gz"),
    ]  # fmt: skip
    started = time.monotonic()
    logger.info("training %s", out.name)
    subprocess.run(cmd, cwd=NLU_DIR, env=rasa_env(), check=True)
    if not out.exists():
        raise RuntimeError(f"rasa train finished but {out} is missing")
    print(f"trained {out.relative_to(ROOT)} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return out


def ensure_model() -> Path:
    """The model for the current inputs, trained first if it is missing."""
    path = model_path()
    if path.exists():
        print(f"model up to date: {path.relative_to(ROOT)}", file=sys.stderr)
        return path
    return train(path)
