"""The conformance suite: a case catalog per dialect, run against any gateway or client.

``musicsim conformance gateway`` runs the catalog against a base URL; ``musicsim
conformance client`` runs a client against a simulator and grades it from the journal;
the pytest plugin gives a client's own tests a running simulator.
"""
