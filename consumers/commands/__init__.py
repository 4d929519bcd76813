"""The legal-document pipeline's commands, added to the ``streamproc`` command line."""

from __future__ import annotations

from consumers.commands.batch import status, submit, watch
from consumers.commands.demo import demo
from consumers.commands.documents import export, migrate, show

COMMANDS = [submit, status, watch, show, export, migrate, demo]
