"""The Oxylabs Web Scraper API, realtime endpoint (`POST {base}/v1/queries`).

Amazon best-seller pages come back parsed (`source: amazon_bestsellers`); eBay search
pages come back as raw HTML through the `universal` source and are parsed by us.
"""

from __future__ import annotations

from urllib.parse import urlencode

import requests

from collect.errors import ConfigError
from collect.parsers.oxylabs import OxylabsResult, unwrap_result
from collect.providers.http import send
from collect.settings import Credentials


class OxylabsClient:
    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        credentials: Credentials | None,
        timeout: tuple[float, float],
    ) -> None:
        if credentials is None:
            raise ConfigError(
                "no Oxylabs credentials",
                hint="set OXYLABS_USERNAME and OXYLABS_PASSWORD, or use --sandbox",
            )
        self._session = session
        self._endpoint = base_url.rstrip("/") + "/v1/queries"
        self._auth = (credentials.username, credentials.password)
        self._timeout = timeout

    def bestsellers(self, node_id: str, page: int) -> OxylabsResult:
        payload = {
            "source": "amazon_bestsellers",
            "domain": "com",
            "query": node_id,
            "start_page": page,
            "parse": True,
        }
        return self._query(payload)

    def universal(self, url: str) -> OxylabsResult:
        payload = {"source": "universal", "url": url, "geo_location": "United States"}
        return self._query(payload)

    def _query(self, payload: dict[str, object]) -> OxylabsResult:
        response = send(
            self._session,
            "POST",
            self._endpoint,
            json=payload,
            auth=self._auth,
            timeout=self._timeout,
        )
        return unwrap_result(response.content)


def bestsellers_url(node_id: str, page: int) -> str:
    """The Amazon page Oxylabs fetches for us, shown in events so a user can open it."""
    query = urlencode({"pg": page}) if page > 1 else ""
    return f"https://www.amazon.com/gp/bestsellers/-/{node_id}" + (
        f"?{query}" if query else ""
    )
