"""The connector tests read from servers on loopback: their HTTP sources and clients may reach 127.0.0.1
(the default policy refuses it; tests/security/test_outbound.py tests that)."""
from __future__ import annotations

import pytest

from connectors.outbound import Policy
from connectors.sources.ckan import CkanClient, CkanSource
from connectors.sources.dcat import DcatSource
from connectors.sources.http_json import HttpJsonSource

LOOPBACK = Policy.parse("127.0.0.1")


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch):
    """Sources and CKAN clients made by the tests may reach 127.0.0.1, as with CATALOG_OUTBOUND_ALLOW=127.0.0.1."""
    for kind in (HttpJsonSource, CkanSource, DcatSource, CkanClient):
        monkeypatch.setattr(kind, "outbound", LOOPBACK)
