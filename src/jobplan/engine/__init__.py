"""Scheduling and execution: scheduler, runner, executors, crash recovery."""
