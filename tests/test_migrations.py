"""Alembic owns the schema: upgrade builds it, it matches the models, downgrade removes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from models.db import make_engine
from models.schema import alembic_config, downgrade_to_base, upgrade_to_head
from tests.conftest import _reset_schema, drop_schema, postgres_engine


async def _check(engine: AsyncEngine) -> None:
    await upgrade_to_head(engine)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), SQLModel.metadata
            )
        )
    assert set(SQLModel.metadata.tables) <= tables
    assert diff == [], f"models and migrations differ: {diff}"
    await upgrade_to_head(engine)  # a second upgrade is a no-op
    await downgrade_to_base(engine)
    async with engine.connect() as conn:
        left = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert left <= {"alembic_version"}


async def test_migrations_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    await _check(engine)
    await engine.dispose()


@pytest.mark.postgres
async def test_migrations_on_postgres(postgres_url: str) -> None:
    await _reset_schema(postgres_url)
    engine = postgres_engine(postgres_url)
    try:
        await _check(engine)
    finally:
        await engine.dispose()
        await drop_schema(postgres_url)


def test_alembic_config_points_at_our_migrations() -> None:
    config = alembic_config()
    assert Path(config.get_main_option("script_location")).name == "migrations"
    command.heads(config)  # the script directory loads
