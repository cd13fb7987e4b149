"""HTML to PDF with WeasyPrint, offline: the report carries its styles and SVG charts
inline, and any other URL it might name is refused rather than fetched.

WeasyPrint is imported on first use (it loads Pango and HarfBuzz), so servers that never
print pay nothing for it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["html_to_pdf"]


def _refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"reports load nothing from outside the document ({url})")


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf = HTML(string=html, url_fetcher=_refuse).write_pdf()
    assert pdf is not None
    return bytes(pdf)
