"""``/docs`` works offline: Swagger UI comes from the package, never from another host."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from jobplan.api import create_app
from jobplan.api.openapi import SWAGGER_UI, VENDOR_DIR
from jobplan.settings import Settings

BASE = "http://testserver"
_EXPECTED_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=BASE) as test_client:
        yield test_client


class _Assets(HTMLParser):
    """The URLs a page makes the browser load: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")
        self._in_script = tag == "script" and not values.get("src")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts.append(data)


def _page_assets(client: TestClient) -> _Assets:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(page.text)
    return parser


def test_docs_page_loads_nothing_from_another_host(client: TestClient) -> None:
    assets = _page_assets(client)
    assert len(assets.urls) == 3, assets.urls  # the bundle, its stylesheet and the icon
    for url in assets.urls:
        assert urlsplit(urljoin(BASE + "/docs", url)).netloc == "testserver", url
    # the inline script names no other host either (no CDN, no validator.swagger.io badge)
    script = "".join(assets.inline_scripts)
    assert "SwaggerUIBundle" in script
    assert not re.findall(r"https?://", script), script
    assert '"validatorUrl": null' in script


def test_docs_assets_are_served_from_the_package_with_their_content_types(
    client: TestClient,
) -> None:
    for url in _page_assets(client).urls:
        response = client.get(url)
        assert response.status_code == 200, url
        suffix = url[url.rindex(".") :]
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in _EXPECTED_TYPES[suffix], (url, media_type)
        name = url.rsplit("/", 1)[1]
        packaged = (VENDOR_DIR / SWAGGER_UI / name).read_bytes()
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(packaged).digest()
    assert client.get("/openapi.json").status_code == 200


def test_vendored_assets_are_listed_with_their_licences() -> None:
    readme = (VENDOR_DIR / "README.md").read_text()
    folders = sorted(p.name for p in VENDOR_DIR.iterdir() if p.is_dir())
    assert SWAGGER_UI in folders
    for folder in folders:
        assert f"`{folder}/`" in readme, f"{folder} is not listed in the vendor README"
        licences = [p for p in (VENDOR_DIR / folder).iterdir() if p.name.startswith("LICEN")]
        assert licences, f"{folder} has no licence file"
        for file in (VENDOR_DIR / folder).iterdir():
            if file.suffix in (".js", ".css"):
                digest = hashlib.sha256(file.read_bytes()).hexdigest()
                assert f"{digest}  {file.name}" in readme, file.name


def test_redoc_is_not_offered(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
