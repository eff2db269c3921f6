"""One module (or package) per dialect: its :class:`~conformance.dialect.Driver` and its
own cases.

:func:`catalog` builds a dialect's whole catalog: the shared cases on its driver, the
upstream cases, then the dialect's own.
"""

from __future__ import annotations

import importlib

from simulator.dialects import DIALECTS

from ..case import Catalog
from ..common import add_shared_cases
from ..upstream import add_upstream_cases


def catalog(provider: str) -> Catalog:
    if provider not in DIALECTS:
        raise ValueError(f"no conformance catalog for {provider!r}; "
                         f"choose one of {', '.join(DIALECTS)}")
    module = importlib.import_module(f"{__name__}.{provider}")
    driver = module.DRIVER
    cases = Catalog(provider)
    add_shared_cases(cases, driver)
    add_upstream_cases(cases, driver)
    module.add_cases(cases, driver)
    return cases


def driver(provider: str):
    return importlib.import_module(f"{__name__}.{provider}").DRIVER
