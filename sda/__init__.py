"""sda: propose service delivery areas by clustering parishes (or small areas).

Contiguous areas inside a population band, aligned to NHS Primary Care Networks, compact,
optionally nested in districts and honouring officers' locks. ``sda.api.run`` is the whole job;
``sda.cli`` is its command line.
"""

#: The one place the version is written: pyproject.toml reads it (``dynamic``), and ``sda --version``,
#: provenance and the output files report it. Bump it with a CHANGELOG.md entry.
__version__ = "0.1.0"

__all__ = ["__version__"]
