"""``python -m sda``: the same as the ``sda`` command."""

from sda.cli import main

if __name__ == "__main__":
    main()
