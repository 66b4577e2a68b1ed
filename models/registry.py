"""The compound registry: districts, compounds and their renovation plan items.

Import from CSV (UTF-8, header row):

compounds.csv
    district_code, district_name, code, name, aliases (separated by ``|``), address,
    households, built_year, renovation_year, renovation_stage, renovation_progress (0–100)
plan_items.csv
    compound_code, category (taxonomy id), title, status (planned / in_progress / done),
    progress (0–100), and optionally due_date (YYYY-MM-DD: when the item is due to be done; it
    sets the resolution deadline of tickets planned into it and the finish residents are told)

Every row is validated and errors name their line; nothing is written when any row is bad.
A re-import updates the rows it finds by code, and never duplicates them.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypedDict

from rapidfuzz import fuzz, process
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import id_of, utcnow
from models.tables import (
    Compound,
    District,
    PlanItem,
    PlanItemStatus,
    RenovationStage,
    Role,
    User,
)
from models.users import worker_compound_ids
from nlu.taxonomy import load_taxonomy

COMPOUND_COLUMNS = (
    "district_code", "district_name", "code", "name", "aliases", "address", "households",
    "built_year", "renovation_year", "renovation_stage", "renovation_progress",
)  # fmt: skip
PLAN_COLUMNS = ("compound_code", "category", "title", "status", "progress")
_CODE = re.compile(r"^[a-z0-9_]{1,30}$")  # deep links carry it: c_<code>


class RegistryError(Exception):
    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


class CompoundFields(TypedDict):
    """A validated compounds.csv row, as the Compound columns it fills."""

    code: str
    name: str
    aliases: list[str]
    address: str
    households: int | None
    built_year: int | None
    renovation_year: int | None
    renovation_stage: str
    renovation_progress: int


class CompoundRow(TypedDict):
    district_code: str
    district_name: str
    compound: CompoundFields


class PlanRow(TypedDict):
    compound_code: str
    category: str
    title: str
    status: str
    progress: int
    due_date: date | None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def _read(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise RegistryError([f"{path.name}: missing columns: {', '.join(missing)}"])
        return [
            (reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader
        ]


def _date(row: dict[str, str], key: str, errors: list[str], where: str) -> date | None:
    raw = row.get(key, "")
    if raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{where}: {key} must be a date like 2027-05-31, got {raw!r}")
        return None


def _int(
    row: dict[str, str], key: str, errors: list[str], where: str, lo: int, hi: int
) -> int | None:
    raw = row.get(key, "")
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"{where}: {key} must be a whole number, got {raw!r}")
        return None
    if not lo <= value <= hi:
        errors.append(f"{where}: {key} must be between {lo} and {hi}, got {value}")
    return value


def validate_compound_rows(path: Path) -> list[CompoundRow]:
    errors: list[str] = []
    rows: list[CompoundRow] = []
    seen: dict[str, int] = {}
    for line, row in _read(path, COMPOUND_COLUMNS):
        where = f"{path.name} line {line}"
        code = row["code"].lower()
        if not _CODE.match(code):
            errors.append(f"{where}: code must be 1–30 of a–z, 0–9 or _, got {row['code']!r}")
        elif code in seen:
            errors.append(f"{where}: code {code!r} already on line {seen[code]}")
        seen.setdefault(code, line)
        if not row["name"]:
            errors.append(f"{where}: name is empty")
        if not _CODE.match(row["district_code"].lower()) or not row["district_name"]:
            errors.append(f"{where}: district_code and district_name are required")
        stage = row["renovation_stage"] or RenovationStage.surveying
        if stage not in RenovationStage.__members__:
            errors.append(
                f"{where}: renovation_stage must be one of {', '.join(RenovationStage)}, "
                f"got {stage!r}"
            )
        compound: CompoundFields = {
            "code": code,
            "name": row["name"],
            "aliases": [a.strip() for a in row["aliases"].split("|") if a.strip()],
            "address": row["address"],
            "households": _int(row, "households", errors, where, 1, 100_000),
            "built_year": _int(row, "built_year", errors, where, 1900, 2100),
            "renovation_year": _int(row, "renovation_year", errors, where, 1900, 2100),
            "renovation_stage": stage,
            "renovation_progress": _int(row, "renovation_progress", errors, where, 0, 100) or 0,
        }
        rows.append(
            {
                "district_code": row["district_code"].lower(),
                "district_name": row["district_name"],
                "compound": compound,
            }
        )
    if errors:
        raise RegistryError(errors)
    return rows


def validate_plan_rows(path: Path, known_codes: set[str]) -> list[PlanRow]:
    taxonomy = load_taxonomy()
    errors: list[str] = []
    rows: list[PlanRow] = []
    for line, row in _read(path, PLAN_COLUMNS):
        where = f"{path.name} line {line}"
        code = row["compound_code"].lower()
        if code not in known_codes:
            errors.append(f"{where}: unknown compound_code {row['compound_code']!r}")
        if row["category"] not in taxonomy:
            errors.append(f"{where}: unknown category {row['category']!r}")
        if not row["title"]:
            errors.append(f"{where}: title is empty")
        status = row["status"] or PlanItemStatus.planned
        if status not in PlanItemStatus.__members__:
            errors.append(f"{where}: status must be one of {', '.join(PlanItemStatus)}")
        progress = _int(row, "progress", errors, where, 0, 100) or 0
        due_date = _date(row, "due_date", errors, where)
        rows.append(
            {"compound_code": code, "category": row["category"], "title": row["title"],
             "status": status, "progress": progress, "due_date": due_date}
        )  # fmt: skip
    if errors:
        raise RegistryError(errors)
    return rows


async def import_compounds(*, session: AsyncSession, path: Path) -> ImportResult:
    rows = validate_compound_rows(path)
    result = ImportResult()
    districts = {d.code: d for d in (await session.exec(select(District))).all()}
    existing = {c.code: c for c in (await session.exec(select(Compound))).all()}
    for row in rows:
        district = districts.get(row["district_code"])
        if district is None:
            district = District(code=row["district_code"], name=row["district_name"])
            session.add(district)
            await session.flush()
            districts[district.code] = district
        else:
            district.name = row["district_name"]
        values = row["compound"]
        compound = existing.get(values["code"])
        if compound is None:
            session.add(Compound(district_id=id_of(district), **values))
            result.created += 1
        else:
            for key, value in values.items():
                setattr(compound, key, value)
            compound.district_id = id_of(district)
            compound.updated_at = utcnow()
            result.updated += 1
    await session.flush()
    return result


async def import_plan_items(*, session: AsyncSession, path: Path) -> ImportResult:
    compounds = {c.code: c for c in (await session.exec(select(Compound))).all()}
    rows = validate_plan_rows(path, set(compounds))
    result = ImportResult()
    existing = {
        (p.compound_id, p.category, p.title): p
        for p in (await session.exec(select(PlanItem))).all()
    }
    for row in rows:
        compound_id = id_of(compounds[row["compound_code"]])
        item = existing.get((compound_id, row["category"], row["title"]))
        if item is None:
            session.add(
                PlanItem(
                    compound_id=compound_id,
                    category=row["category"],
                    title=row["title"],
                    status=row["status"],
                    progress=row["progress"],
                    due_date=row["due_date"],
                )
            )
            result.created += 1
        else:
            item.status, item.progress = row["status"], row["progress"]
            if row["due_date"] is not None:  # an empty cell keeps the date set before
                item.due_date = row["due_date"]
            item.updated_at = utcnow()
            result.updated += 1
    await session.flush()
    return result


def _header(path: Path) -> list[str]:
    try:
        return next(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise RegistryError([f"{path.name}: not a UTF-8 CSV file"]) from error


async def import_as(*, session: AsyncSession, user: User, path: Path) -> tuple[str, ImportResult]:
    """A registry file sent by staff: compounds or plan items (told apart by the header), with
    the CLI's validation and, on top, scope: district staff import only their district's
    compounds and plan items. Returns ("compounds" | "plan", result); raises RegistryError
    (every line named) or PermissionError before anything is written."""
    role = Role(user.role)
    if not role.oversees:
        raise PermissionError("only district and city staff import the registry")
    header = _header(path)
    kind = "plan" if "compound_code" in header else "compounds"
    if kind == "compounds":
        validate_compound_rows(path)
    else:
        known = set((await session.exec(select(Compound.code))).all())
        validate_plan_rows(path, known)
    if role == Role.district_staff:
        district = await session.get(District, user.district_id) if user.district_id else None
        scope = await worker_compound_ids(session=session, user=user)
        codes = {c.code: c for c in (await session.exec(select(Compound))).all()}
        errors = []
        for line, row in _read(path, COMPOUND_COLUMNS if kind == "compounds" else PLAN_COLUMNS):
            where = f"{path.name} line {line}"
            if kind == "compounds":
                existing = codes.get(row["code"].lower())
                if district is None or row["district_code"].lower() != district.code:
                    errors.append(f"{where}: district_code {row['district_code']!r} is not yours")
                elif existing is not None and existing.id not in scope:
                    errors.append(f"{where}: {row['code']!r} belongs to another district")
            elif codes[row["compound_code"].lower()].id not in scope:
                errors.append(f"{where}: {row['compound_code']!r} is not in your district")
        if errors:
            raise RegistryError(errors)
    if kind == "compounds":
        return kind, await import_compounds(session=session, path=path)
    return kind, await import_plan_items(session=session, path=path)


# --- look-ups -----------------------------------------------------------------------------


async def get_compound_by_code(*, session: AsyncSession, code: str) -> Compound | None:
    return (await session.exec(select(Compound).where(Compound.code == code.lower()))).first()


async def search_compounds(
    *, session: AsyncSession, query: str, limit: int = 5, min_score: float = 60
) -> list[Compound]:
    """Compounds whose name or an alias matches what a resident typed (partial, fuzzy)."""
    query = query.strip()
    if not query:
        return []
    compounds = (await session.exec(select(Compound))).all()
    choices = {}
    for compound in compounds:
        for label in (compound.name, *compound.aliases):
            choices[(id_of(compound), label)] = label
    best: dict[int, float] = {}
    for _label, score, (compound_id, _) in process.extract(
        query, choices, scorer=fuzz.partial_ratio, limit=None, score_cutoff=min_score
    ):
        # A full-length match beats a partial one of the same score.
        score += fuzz.ratio(query, _label) / 100
        best[compound_id] = max(best.get(compound_id, 0), score)
    by_id = {c.id: c for c in compounds}
    ranked = sorted(best, key=lambda cid: -best[cid])[:limit]
    return [by_id[cid] for cid in ranked]


async def list_districts(*, session: AsyncSession) -> list[District]:
    return list((await session.exec(select(District).order_by(col(District.id)))).all())


async def list_compounds(
    *, session: AsyncSession, district_id: int | None = None
) -> list[Compound]:
    statement = select(Compound).order_by(Compound.code)
    if district_id is not None:
        statement = statement.where(Compound.district_id == district_id)
    return list((await session.exec(statement)).all())


# --- command line -------------------------------------------------------------------------


async def _main(args: argparse.Namespace) -> int:
    from models.config import get_model_settings, load_or_exit
    from models.db import make_engine, make_session_factory

    settings = load_or_exit(get_model_settings)
    engine = make_engine(settings.database_url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            compounds = await import_compounds(session=session, path=Path(args.csv))
            print(f"compounds: {compounds.created} created, {compounds.updated} updated")
            if args.plan:
                plan = await import_plan_items(session=session, path=Path(args.plan))
                print(f"plan items: {plan.created} created, {plan.updated} updated")
    except RegistryError as error:
        print("import failed, nothing was written:")
        for line in error.errors:
            print(f"  {line}")
        return 1
    finally:
        await engine.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.registry",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import districts and compounds from a CSV file")
    imp.add_argument("csv")
    imp.add_argument("--plan", help="also import renovation plan items from this CSV file")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
