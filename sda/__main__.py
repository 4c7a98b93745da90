"""``python -m sda``: the same as the ``sda`` command."""

from sda.cli import cli

if __name__ == "__main__":
    cli()
