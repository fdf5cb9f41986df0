"""Assignment and Grade Services 2.0, the tool's side: an OAuth 2 access token by the
client-credentials grant with a signed JWT assertion, line items found (or made) for an
assignment, and scores posted to `<lineitem>/scores`.

httpx with short timeouts: a slow or failing platform costs a score post an attempt (recorded
and retried by grader.lti.passback), never a submission."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from grader.lti.claims import SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_SCORE
from grader.lti.deep_linking import LINE_ITEM_TAG
from grader.lti.keys import ToolKey
from grader.store.lti import LtiLink, Platform

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_PAGES = 20  # a line item container is read this many pages at most


class AgsError(Exception):
    """A platform refused or did not answer; the message is recorded with the score post."""


def scores_url(lineitem_url: str) -> str:
    """`<lineitem>/scores`, keeping a query the line item URL may carry."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class AgsClient:
    def __init__(self, key: ToolKey, timeout: float = 5.0) -> None:
        self.key = key
        self.http = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "grader-lti"})
        self._tokens: dict[tuple[int, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise AgsError(f"{method} {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise AgsError(f"{method} {url}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def token(self, platform: Platform, scopes: list[str]) -> str:
        """An access token for these scopes (cached until shortly before it expires)."""
        scope = " ".join(sorted(scopes))
        now = time.monotonic()
        with self._lock:
            hit = self._tokens.get((platform.id, scope))
        if hit is not None and hit[0] > now:
            return hit[1]
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.key.client_assertion(platform.client_id, platform.assertion_audience),
            "scope": scope,
        }
        body = self._call("POST", platform.token_url, data=form, headers={"Accept": "application/json"}).json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AgsError(f"the token endpoint {platform.token_url} gave no access_token")
        lifetime = float(body.get("expires_in") or 300)
        with self._lock:
            self._tokens[(platform.id, scope)] = (now + max(lifetime - 30, 1), token)
        return token

    def _auth(self, platform: Platform, scopes: list[str], accept: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(platform, scopes)}", "Accept": accept}

    def line_item(self, platform: Platform, link: LtiLink, *, label: str, score_maximum: float) -> str:
        """The line item's URL for the assignment in that course: the one the launch named, else
        the container's item for this assignment (resourceId), else a new one (if allowed)."""
        if link.lineitem_url:
            return link.lineitem_url
        if not link.lineitems_url:
            raise AgsError(f"the platform gave no line item for {link.assignment} in course {link.context_id} (AGS not enabled?)")
        read = [s for s in (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY) if s in link.scopes]
        if not read:
            raise AgsError("the platform granted no line item scope")
        headers = self._auth(platform, read, CONTAINER_TYPE)
        url: str | None = link.lineitems_url
        params: dict[str, str] | None = {"resource_id": link.assignment, **({"resource_link_id": link.resource_link_id} if link.resource_link_id else {})}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._call("GET", url, params=params, headers=headers)
            items = response.json()
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and item.get("resourceId") == link.assignment and isinstance(item.get("id"), str):
                    return item["id"]
            url = response.links.get("next", {}).get("url")
            params = None  # the next page's URL carries its own query
        if SCOPE_LINEITEM not in link.scopes:
            raise AgsError(f"no line item for {link.assignment} and no scope to make one")
        made = self._call(
            "POST", link.lineitems_url, json={
                "scoreMaximum": score_maximum, "label": label, "resourceId": link.assignment, "tag": LINE_ITEM_TAG,
                **({"resourceLinkId": link.resource_link_id} if link.resource_link_id else {}),
            },
            headers={**self._auth(platform, [SCOPE_LINEITEM], LINEITEM_TYPE), "Content-Type": LINEITEM_TYPE},
        ).json()
        if not isinstance(made, dict) or not isinstance(made.get("id"), str):
            raise AgsError("the platform made a line item but did not say its URL (id)")
        return made["id"]

    def post_score(self, platform: Platform, lineitem_url: str, payload: dict[str, Any]) -> None:
        headers = {**self._auth(platform, [SCOPE_SCORE], "application/json"), "Content-Type": SCORE_TYPE}
        self._call("POST", scores_url(lineitem_url), content=json.dumps(payload).encode("utf-8"), headers=headers)

