"""Celery, arq, dramatiq, taskiq and FastStream on the engine benchmark's workloads.

Each framework has a module here (``<name>_peer``) holding its no-op tasks,
its settings and why they are the recommended ones for short I/O-light
tasks, how it enqueues, and the worker command it runs. ``driver`` measures
one run of one peer, ``marks`` is how the tasks record the run's start and
finish, ``measure`` repeats runs over peers and workloads, and
``python -m bench.peers`` puts them in one table beside the raw redis-py
loop and streamproc.
"""

from bench.peers.measure import measure_peers

__all__ = ["measure_peers"]
