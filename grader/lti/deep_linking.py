"""The Deep Linking 2.0 response: the assignments staff picked, as LTI resource links with a
line item each, in a JWT the tool signs and the browser posts to the platform's
deep_link_return_url (form field `JWT`)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from pydantic import BaseModel

from grader.lti import claims as c
from grader.lti.claims import DeepLinkingSettings
from grader.lti.keys import ToolKey

#: The tag our line items carry (a platform's other line items are left alone).
LINE_ITEM_TAG = "grader"


class Picked(BaseModel):
    """One assignment placed in the platform's course."""

    assignment: str
    title: str
    max_score: float


def resource_link(item: Picked, tool_url: str) -> dict[str, Any]:
    """An ltiResourceLink content item: its launches land on the assignment (custom parameter
    `assignment`, and the URL the launch targets), and the platform makes a line item for it
    (scoreMaximum, resourceId = the assignment id) that scores are posted to."""
    return {
        "type": "ltiResourceLink",
        "title": item.title,
        "url": f"{tool_url.rstrip('/')}/assignments/{item.assignment}",
        "custom": {"assignment": item.assignment},
        "lineItem": {"scoreMaximum": item.max_score, "label": item.title, "resourceId": item.assignment, "tag": LINE_ITEM_TAG},
        "window": {"targetName": "_blank"},
    }


def response_jwt(
    key: ToolKey, *, client_id: str, issuer: str, deployment_id: str, settings: DeepLinkingSettings, items: list[Picked], tool_url: str, lifetime: int = 300
) -> str:
    """The signed LtiDeepLinkingResponse: issued by the tool (its client id) to the platform
    (its issuer), for the deployment of the request, echoing the request's `data`."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "aud": issuer,
        "iat": now,
        "exp": now + lifetime,
        "nonce": secrets.token_urlsafe(16),
        c.MESSAGE_TYPE: c.DEEP_LINKING_RESPONSE,
        c.VERSION: c.LTI_VERSION,
        c.DEPLOYMENT_ID: deployment_id,
        c.DL_CONTENT_ITEMS: [resource_link(i, tool_url) for i in items],
    }
    if settings.data is not None:
        body[c.DL_DATA] = settings.data
    if items:
        body[c.DL_MESSAGE] = f"Placed {len(items)} assignment{'s' if len(items) != 1 else ''}."
    return key.sign(body)
