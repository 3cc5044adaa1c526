"""Bundles: plans exported as zip files in the Ikasan layout (see docs/bundles.md)."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from jobplan.bundle import BundlePlan, write_bundle
from jobplan.service.caller import Caller, Permission
from jobplan.service.plans import PlanService

__all__ = ["BundleService", "ExportedBundle"]


@dataclass(frozen=True, slots=True)
class ExportedBundle:
    file_name: str
    content: bytes


class BundleService:
    def __init__(self, plans: PlanService) -> None:
        self._plans = plans

    def export_plan(
        self, caller: Caller, plan_ref: str, *, with_tokens: bool = False
    ) -> ExportedBundle:
        """One plan's current version as a bundle in Ikasan's own layout; ``with_tokens`` puts
        ``[[name]]`` placeholders where values differ between environments (Ikasan's CI/CD
        tokens)."""
        caller.require(Permission.PLANS_READ)
        view = self._plans.get(caller, plan_ref)
        out = io.BytesIO()
        write_bundle(
            [BundlePlan(view.document, version=view.version.version, version_id=view.version.id)],
            out,
            source_tenant=caller.tenant_name,
            with_tokens=with_tokens,
            # Ikasan's exports hold one root folder named <epoch ms>-<plan>, its folders,
            # context/<plan>.json and jobs/<kind>/<job>.json, nothing else
            root_folder=f"{int(time.time() * 1000)}-{view.plan.name}",
            ikasan_layout=True,
        )
        return ExportedBundle(f"{view.plan.name}.zip", out.getvalue())
