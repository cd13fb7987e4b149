"""The FHIR data of a CDS call: from the request's prefetch, else fetched from its FHIR server.

For each prefetch template of the service:

* a key the client filled with a resource or a Bundle is used (a searchset's further pages,
  ``link`` ``next``, are fetched from the FHIR server);
* a key filled with ``null`` means there is no data (for the Patient read: no patient);
* a key the client left out, or filled with an OperationOutcome (it could not get the data), is
  fetched: ``GET {fhirServer}/{query}`` with the ``fhirAuthorization`` bearer token, following
  ``next`` links on the same server.

``fhirServer`` must be https, or http on this machine when ``cds_allow_http_loopback`` is set;
the token is never sent elsewhere. When data cannot be had (no FHIR server, a refused scheme, a
network or HTTP error, no Patient) the call fails with 412 Precondition Failed naming what is
missing, as the spec requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from trdnav.cds.auth import is_loopback
from trdnav.cds.models import CdsRequest
from trdnav.core.intake import json_kind
from trdnav.errors import DataUnavailable, InputError, Problem
from trdnav.fhir.resources import Located

__all__ = ["FETCH_TIMEOUT", "MAX_PAGES", "complete", "gather"]

FETCH_TIMEOUT = 10.0
"""Seconds allowed for each request to the client's FHIR server."""
MAX_PAGES = 50
"""Pages of one search followed at most."""


def _render(template: str, context: dict[str, Any]) -> str:
    """A prefetch template with its ``{{context.x}}`` tokens replaced (URL-encoded)."""
    out = template
    for key, value in context.items():
        token = "{{context." + key + "}}"
        if token in out:
            if not isinstance(value, str | int):
                raise DataUnavailable(f"context.{key} cannot fill the prefetch template")
            out = out.replace(token, quote(str(value), safe=""))
    if "{{" in out:
        raise DataUnavailable(f"the prefetch template {template!r} needs context the call lacks")
    return out


class _Fetcher:
    def __init__(self, request: CdsRequest, allow_http_loopback: bool) -> None:
        self.base = (request.fhirServer or "").rstrip("/")
        self.headers = {"Accept": "application/fhir+json"}
        if request.fhirAuthorization is not None:
            self.headers["Authorization"] = f"Bearer {request.fhirAuthorization.access_token}"
        self.allow_http = allow_http_loopback
        self.client: httpx.Client | None = None

    def usable(self) -> str | None:
        """Why the FHIR server cannot be used, or None."""
        if not self.base:
            return "the request has no fhirServer to fetch it from"
        try:
            parts = urlsplit(self.base)
            parts.port  # noqa: B018  (a port that is not a number raises here)
            httpx.URL(self.base)
        except (ValueError, httpx.InvalidURL):
            return f"fhirServer {self.base} is not a URL"
        scheme = parts.scheme
        if scheme == "https":
            return None
        if scheme == "http" and self.allow_http and is_loopback(self.base):
            return None
        return f"fhirServer {self.base} is not https (the access token is sent only over https)"

    def get(self, url: str) -> Any:
        if self.client is None:
            self.client = httpx.Client(timeout=FETCH_TIMEOUT, headers=self.headers)
        try:
            response = self.client.get(url)
        except httpx.HTTPError as exc:
            raise DataUnavailable(f"the FHIR server could not be reached ({exc})") from None
        if response.status_code != 200:
            raise DataUnavailable(f"the FHIR server answered {response.status_code} to GET {url}")
        try:
            return response.json()
        except ValueError:
            raise DataUnavailable(f"the FHIR server sent no JSON for GET {url}") from None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _next(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) else None
    return None


def _entries(value: Any, where: str) -> Iterator[Located]:
    if not isinstance(value, dict):
        return
    if value.get("resourceType") != "Bundle":
        yield Located(value, where)
        return
    # Invalid FHIR is refused, not passed over: a Condition left out unseen would hide the
    # contraindication it stands for.
    entries = value.get("entry")
    if entries is None:
        return
    if not isinstance(entries, list):
        raise InputError([Problem(f"{where}.entry", _shown(entries), "an array of entries")])
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            at = f"{where}.entry[{index}]" + ("" if not isinstance(entry, dict) else ".resource")
            shown = _shown(entry if not isinstance(entry, dict) else resource)
            raise InputError([Problem(at, shown, "an entry with a resource (a JSON object)")])
        full = entry.get("fullUrl")
        yield Located(
            resource, f"{where}.entry[{index}].resource", full if isinstance(full, str) else None
        )


def _shown(value: Any) -> Any:
    """A value as a problem shows it: a JSON object or array only by its kind."""
    return json_kind(value) if isinstance(value, dict | list) else value


def _pages(fetcher: _Fetcher, first: dict[str, Any], key: str) -> Iterator[Located]:
    """A searchset's entries and those of its further pages."""
    page, number = first, 0
    while True:
        where = f"prefetch.{key}" if number == 0 else f"{key} page {number + 1}"
        yield from _entries(page, where)
        url = _next(page) if page.get("resourceType") == "Bundle" else None
        if url is None:
            return
        number += 1
        why = fetcher.usable()
        if why is not None:
            raise DataUnavailable(f"prefetch {key!r} has more pages, but {why}")
        if not url.startswith(fetcher.base + "/"):
            raise DataUnavailable(f"prefetch {key!r}: the next page {url} is not on {fetcher.base}")
        if number >= MAX_PAGES:
            raise DataUnavailable(f"prefetch {key!r} has more than {MAX_PAGES} pages")
        page = fetcher.get(url)
        if not isinstance(page, dict):
            raise DataUnavailable(f"prefetch {key!r}: the next page is not a FHIR Bundle")


def complete(request: CdsRequest, templates: dict[str, str]) -> bool:
    """Whether :func:`gather` would read everything from the request's prefetch, fetching
    nothing from the FHIR server: every template renders, every key is given (``null`` only for
    a search) as a resource or a Bundle with no further page. The data read then depends on the
    request alone."""
    prefetch = request.prefetch
    if not prefetch:
        return False
    for key, template in templates.items():
        try:
            _render(template, request.context)
        except DataUnavailable:
            return False
        if key not in prefetch:
            return False
        given = prefetch[key]
        if given is None:
            if key == "patient":
                return False
            continue
        if not isinstance(given, dict) or given.get("resourceType") in (None, "OperationOutcome"):
            return False
        if given["resourceType"] == "Bundle" and _next(given) is not None:
            return False
    return True


def gather(
    request: CdsRequest, templates: dict[str, str], allow_http_loopback: bool
) -> list[Located]:
    """Every resource of the service's prefetch templates, from prefetch or fetched."""
    prefetch = request.prefetch or {}
    fetcher = _Fetcher(request, allow_http_loopback)
    found: list[Located] = []
    try:
        for key, template in templates.items():
            query = _render(template, request.context)
            given = prefetch.get(key)
            if key in prefetch and given is None:
                if key == "patient":
                    raise DataUnavailable("the prefetched Patient is null: no such patient")
                continue
            usable = isinstance(given, dict) and given.get("resourceType") not in (
                None,
                "OperationOutcome",
            )
            if not usable:
                why = fetcher.usable()
                if why is not None:
                    raise DataUnavailable(f"prefetch {key!r} ({query}) is missing and {why}")
                given = fetcher.get(f"{fetcher.base}/{query}")
                if not isinstance(given, dict):
                    raise DataUnavailable(f"GET {query} did not return a FHIR resource")
            assert isinstance(given, dict)
            found.extend(_pages(fetcher, given, key))
    finally:
        fetcher.close()
    if not any(
        isinstance(item.resource, dict) and item.resource.get("resourceType") == "Patient"
        for item in found
    ):
        raise DataUnavailable("the patient's Patient resource could not be had")
    return found
