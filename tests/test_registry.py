"""Importing the compound registry from CSV: validation with line numbers, idempotent updates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from models.registry import (
    RegistryError,
    import_compounds,
    import_plan_items,
    search_compounds,
)
from models.tables import Compound, District, PlanItem
from tests.conftest import DEMO, load_demo_registry

HEADER = (
    "district_code,district_name,code,name,aliases,address,households,built_year,"
    "renovation_year,renovation_stage,renovation_progress\n"
)


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "compounds.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


async def test_demo_registry_loads_every_shenyang_district(session_factory):
    await load_demo_registry(session_factory)
    async with session_factory() as s:
        districts = {d.name for d in (await s.exec(select(District))).all()}
        compounds = (await s.exec(select(Compound))).all()
        plan = (await s.exec(select(PlanItem))).all()
    assert {"和平区", "沈河区", "大东区", "皇姑区", "铁西区", "浑南区", "于洪区", "沈北新区",
            "苏家屯区", "辽中区"} <= districts  # fmt: skip
    assert len(compounds) >= 30 and len(plan) >= 20


async def test_reimport_updates_and_never_duplicates(session_factory, tmp_path):
    await load_demo_registry(session_factory)
    changed = (
        DEMO.joinpath("compounds.csv")
        .read_text(encoding="utf-8")
        .replace("南湖春晓小区,南湖春晓|春晓小区", "南湖春晓小区,南湖春晓|春晓小区|南湖小区")
    )
    path = tmp_path / "c.csv"
    path.write_text(changed, encoding="utf-8")
    async with session_factory() as s, s.begin():
        result = await import_compounds(session=s, path=path)
        again = await import_plan_items(session=s, path=DEMO / "plan_items.csv")
    assert result.created == 0 and result.updated >= 30 and again.created == 0
    async with session_factory() as s:
        [compound] = (await s.exec(select(Compound).where(Compound.code == "hp01"))).all()
        assert compound.aliases == ["南湖春晓", "春晓小区", "南湖小区"]
        assert len((await s.exec(select(District))).all()) == 13


async def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(
    session_factory, tmp_path
):
    path = write(
        tmp_path,
        "heping,和平区,ok01,好小区,,地址,100,1990,2026,planning,10\n"
        "heping,和平区,Bad Code,,,,abc,1800,2026,demolished,150\n"
        "heping,和平区,ok01,重复,,,,,,,\n",
    )
    async with session_factory() as s, s.begin():
        with pytest.raises(RegistryError) as caught:
            await import_compounds(session=s, path=path)
    errors = caught.value.errors
    assert any(e.startswith("compounds.csv line 3: code must be") for e in errors)
    assert any("line 3: name is empty" in e for e in errors)
    assert any("line 3: households must be a whole number" in e for e in errors)
    assert any("line 3: built_year must be between 1900 and 2100" in e for e in errors)
    assert any("line 3: renovation_stage must be one of" in e for e in errors)
    assert any("line 3: renovation_progress must be between 0 and 100" in e for e in errors)
    assert any("line 4: code 'ok01' already on line 2" in e for e in errors)
    async with session_factory() as s:
        assert (await s.exec(select(Compound))).all() == []


async def test_missing_columns_are_named(session_factory, tmp_path):
    path = write(tmp_path, "x,y\n", header="code,name\n")
    async with session_factory() as s:
        with pytest.raises(RegistryError, match="missing columns: district_code"):
            await import_compounds(session=s, path=path)


async def test_plan_items_need_known_compounds_and_categories(session_factory, tmp_path):
    await load_demo_registry(session_factory)
    path = tmp_path / "plan.csv"
    path.write_text(
        "compound_code,category,title,status,progress\nzz99,water,x,planned,0\nhp01,teleport,y,done,100\n",
        encoding="utf-8",
    )
    async with session_factory() as s:
        with pytest.raises(RegistryError) as caught:
            await import_plan_items(session=s, path=path)
    assert caught.value.errors == [
        "plan.csv line 2: unknown compound_code 'zz99'",
        "plan.csv line 3: unknown category 'teleport'",
    ]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("南湖春晓", "南湖春晓小区"), ("工人村", "工人村东区"), ("菜行", "大西菜行小区"), ("五里河", "五里河西苑"),
     ("北陵花园", "北陵花园")],
)  # fmt: skip
async def test_fuzzy_search_finds_the_compound_first(session_factory, typed, expected):
    await load_demo_registry(session_factory)
    async with session_factory() as s:
        found = await search_compounds(session=s, query=typed)
    assert found and found[0].name == expected


def test_registry_command_reports_errors(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    bad = write(tmp_path, "heping,和平区,BAD CODE,,,,,,,,\n")
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], env=env, check=True,
                   capture_output=True, cwd=DEMO.parent.parent)  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "models.registry", "import", str(bad)], env=env,
                            capture_output=True, text=True, cwd=DEMO.parent.parent)  # fmt: skip
    assert result.returncode == 1
    assert "import failed, nothing was written" in result.stdout
    assert "compounds.csv line 2: code must be" in result.stdout


async def test_plan_items_carry_their_due_dates_and_a_bad_date_is_named(session_factory, tmp_path):
    await load_demo_registry(session_factory)
    async with session_factory() as s:
        item = (
            await s.exec(select(PlanItem).where(PlanItem.title == "更换小区老旧供水管网"))
        ).one()
    assert item.due_date == date(2026, 12, 25)  # data/demo/plan_items.csv

    header = "compound_code,category,title,status,progress,due_date\n"
    path = tmp_path / "plan.csv"
    path.write_text(header + "hp01,water,更换小区老旧供水管网,in_progress,70,2027-13-01\n", "utf-8")
    async with session_factory() as s, s.begin():
        with pytest.raises(RegistryError) as caught:
            await import_plan_items(session=s, path=path)
    assert caught.value.errors == [
        "plan.csv line 2: due_date must be a date like 2027-05-31, got '2027-13-01'"
    ]
    # an empty cell (or no such column) keeps the date; a new one replaces it
    path.write_text(header + "hp01,water,更换小区老旧供水管网,in_progress,70,\n", "utf-8")
    async with session_factory() as s, s.begin():
        await import_plan_items(session=s, path=path)
    path.write_text(header + "hp01,water,更换小区老旧供水管网,in_progress,80,2027-01-15\n", "utf-8")
    async with session_factory() as s:
        kept = await s.get(PlanItem, item.id)
        assert kept.due_date == date(2026, 12, 25) and kept.progress == 70
    async with session_factory() as s, s.begin():
        await import_plan_items(session=s, path=path)
    async with session_factory() as s:
        assert (await s.get(PlanItem, item.id)).due_date == date(2027, 1, 15)
