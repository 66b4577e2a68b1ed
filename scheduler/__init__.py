"""APScheduler jobs: progress pushes, follow-up visits (回访), satisfaction surveys, deadline
chasing and the monthly report. Not built yet: the tables they work on (surveys, answers,
notices, the outbox) and the KPIs (models/stats.py) are in place for them."""
