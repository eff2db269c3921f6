"""The dialects served, in the order they are listed: the one registry that every list of
dialects is read from (the CLI's choices, the settings, the providers, the conformance
catalogs, the tests).

Adding a dialect: its package under ``providers/`` (a copy of one of the five, the same
shape), its spec ``specs/<id>.yaml``, its prices in ``fixtures/prices.toml``, its
conformance driver under ``conformance/dialects/``, and its id here.
"""

DIALECTS = ("evolink", "acedata", "openaihk", "sunor", "orux")
