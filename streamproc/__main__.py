"""``python -m streamproc`` runs the command line."""

from streamproc.cli import main

main()
