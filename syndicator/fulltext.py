"""An article page's main text, for a teaser entry (`fulltext` in a source's config).

trafilatura finds the article in a news page (navigation, cookie banners, related links and
comments left out); the HTML it returns is then cleaned, matched and published like any feed
body (pipeline.py fetches the page, politely, and analyse.py takes it from there). Pure: bytes
in, HTML out; imported only by a source that asks for full text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

log = logging.getLogger(__name__)

MIN_CHARS = 200  # less than this is no article: a login wall, a cookie page, an error page


def extract_main(body: bytes, url: str, headers: Mapping[str, str]) -> tuple[str, str]:
    """(the page's main text as HTML, "") or ("", why not). Never raises."""
    kind = {k.lower(): v for k, v in headers.items()}.get("content-type", "").lower()
    if kind and "html" not in kind:
        return "", f"not an HTML page ({kind.split(';')[0].strip()})"
    try:
        import trafilatura

        html = trafilatura.extract(
            body,
            url=url,
            output_format="html",
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=True,
            favor_precision=True,
        )
    except Exception as exc:  # a page that breaks the extractor costs this entry's text only
        log.warning("full text extraction failed: %s: %s", type(exc).__name__, exc)
        return "", f"extraction failed: {type(exc).__name__}"
    if not html or len(" ".join(html.split())) < MIN_CHARS:
        return "", "no article text found on the page"
    return html, ""
