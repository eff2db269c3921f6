"""musicsim: a local, faithful simulator of hosted music-generation APIs."""

__version__ = "0.1.0"
