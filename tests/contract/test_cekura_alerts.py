"""The alerts routes Cekura declares answer its declared shapes (AlertList[], AlertCreate,
AlertDetail, AlertUpdate, 204), with our extra fields allowed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.cekura_schema import CekuraSchema
from tests.contract.test_cekura_schema import Checked
from tests.service.conftest import RunApp

ALERTS = "/observability/v1/alerts/"
ONE = "/observability/v1/alerts/{id}/"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'contract.db'}"


async def test_the_alerts_routes_answer_cekuras_declared_shapes(run_app: RunApp) -> None:
    cekura = CekuraSchema()
    async with run_app() as running:
        check = Checked(running.client, cekura)
        body = {"name": "trend", "project": 1, "source_type": "metric", "source_id": 15,
                "source": {"sub_type": "significant_change"}, "preset": "balanced"}  # fmt: skip
        created = await check("POST", ALERTS, 201, json=body)
        pk = created.json()["id"]
        await check("GET", ALERTS, 200)
        await check("GET", f"{ALERTS}{pk}/", 200, ONE)
        await check("PATCH", f"{ALERTS}{pk}/", 200, ONE, json={"enabled": False})
        await check("PUT", f"{ALERTS}{pk}/", 200, ONE, json={"name": "renamed"})
        await check("DELETE", f"{ALERTS}{pk}/", 204, ONE)
    declared = {f"{m.upper()} {p.split('/observability/')[1].split('/', 1)[1]}"
                for p, ops in cekura.document["paths"].items()
                if p in (ALERTS, ONE) for m in ops}  # fmt: skip
    assert declared == check.seen
