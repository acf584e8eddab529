"""Scheduling: the schedules file (`schedules.yml`) read by the cloud deployment and, later, Dagster."""
