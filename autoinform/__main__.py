"""`python -m autoinform` is the `autoinform` command."""

from autoinform.cli import main

main()
