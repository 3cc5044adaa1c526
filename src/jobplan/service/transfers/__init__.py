"""Asynchronous bundle exports and imports: created by a request, run by a worker, watched
through their status, cancelled by ``cancel``. One implementation for ``/api/v1/exports``,
``/api/v1/imports``, the Spark and Ikasan dialects and the CLI (see docs/bundles.md).

The modules, along the seams of the work:

- :mod:`.options`: what callers ask for (:class:`ExportOptions`, :class:`ImportOptions`)
  and the kinds, statuses and limits of jobs;
- :mod:`.jobs`: creating, listing, reading and cancelling jobs, and the tenants' limits;
- :mod:`.selection`: which stored plan versions an export's options select;
- :mod:`.runner`: the export and import runners the worker threads call, and housekeeping;
- :mod:`.documents`: the validated documents kept for exports;
- :mod:`.files`: the transfer folder (uploads, ``.part`` files, checksums, clean-up);
- :mod:`.progress`: progress, cancellation and deadline checks of a running job;
- :mod:`.service`: :class:`TransferService`, the one object the adapters call.
"""

from __future__ import annotations

from jobplan.service.transfers.options import (
    ExportOptions,
    ImportOptions,
    TransferKind,
    TransferLimits,
    TransferStatus,
)
from jobplan.service.transfers.service import TransferService

__all__ = [
    "ExportOptions",
    "ImportOptions",
    "TransferKind",
    "TransferLimits",
    "TransferService",
    "TransferStatus",
]
