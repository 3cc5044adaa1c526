"""Ikasan Enterprise Scheduler's job plan export services, with HTTP Basic.

``GET /rest/export/context/{job-plan-name}`` and
``GET /rest/export/context/tokens/{job-plan-name}`` answer 200 with the zipped job plan
(``Content-Disposition: attachment; filename=<plan>.zip``) in Ikasan's layout. The plan is
named as in Ikasan (its name; a ``folder/name`` path or id also works). Errors are plain
text, as Ikasan's are: 401 without valid credentials, 404 for an unknown plan.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from jobplan.api.deps import ServicesDep, client_address
from jobplan.errors import AuthenticationFailed, JobplanError, NotFound, PermissionDenied

router = APIRouter(tags=["dialect: Ikasan"])
_basic = HTTPBasic(auto_error=False, realm="ikasan")

PlanName = Annotated[str, Path(max_length=700, description="Job plan name.")]


async def _export(
    request: Request,
    services: ServicesDep,
    name: str,
    with_tokens: bool,
    tenant: str | None,
) -> Response:
    credentials: HTTPBasicCredentials | None = await _basic(request)
    try:
        if credentials is None:
            raise AuthenticationFailed("HTTP Basic credentials are required")
        caller = await run_in_threadpool(
            services.auth.authenticate_basic,
            credentials.username,
            credentials.password,
            tenant,
            client_address(request),
        )
        bundle = await run_in_threadpool(
            lambda: services.bundles.export_plan(caller, name, with_tokens=with_tokens)
        )
    except AuthenticationFailed as exc:
        return PlainTextResponse(
            exc.message, status_code=401, headers={"WWW-Authenticate": 'Basic realm="ikasan"'}
        )
    except PermissionDenied as exc:
        return PlainTextResponse(exc.message, status_code=403)
    except NotFound:
        return PlainTextResponse(f"Job plan '{name}' not found", status_code=404)
    except JobplanError as exc:
        return PlainTextResponse(exc.message, status_code=400)
    return Response(
        bundle.content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{bundle.file_name}"'},
    )


@router.get("/rest/export/context/tokens/{name:path}", operation_id="ikasan_export_tokens")
async def export_with_tokens(
    name: PlanName,
    request: Request,
    services: ServicesDep,
    x_tenant: Annotated[str | None, Header()] = None,
) -> Response:
    """The job plan bundle with CI/CD replacement tokens (``[[name]]``)."""
    return await _export(request, services, name, True, x_tenant)


@router.get("/rest/export/context/{name:path}", operation_id="ikasan_export")
async def export(
    name: PlanName,
    request: Request,
    services: ServicesDep,
    x_tenant: Annotated[str | None, Header()] = None,
) -> Response:
    """The job plan bundle."""
    return await _export(request, services, name, False, x_tenant)
