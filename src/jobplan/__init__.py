"""jobplan: an enterprise job scheduler for Quartz-cron-scheduled, dependency-driven job plans."""

__version__ = "0.1.0"

__all__ = ["__version__"]
