"""``python -m blotquant`` runs the command line."""

from blotquant.cli import main

main()
