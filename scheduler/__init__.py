"""The scheduler (``python -m scheduler``): follow-ups (回访), satisfaction and acceptance
surveys, deadline chasing, progress pushes and housekeeping, as sweeps over our own tables.

One process is active at a time (scheduler/service.py); ``run-due`` runs every sweep once as
of a given time. The jobs are listed in scheduler/jobs/__init__.py.
"""
