"""The tool's configuration as an LMS admin enters it: the URLs of the login initiation, the
launch (redirect URI), the JWKS and deep linking, the AGS scopes, the claims the tool reads,
and Canvas's placements (its developer key accepts this JSON as it is; Moodle and Blackboard
take the same URLs in their forms)."""

from __future__ import annotations

from typing import Any

from grader.lti.claims import AGS_SCOPES, DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST


class ToolUrls:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.login = f"{self.base}/lti/login"
        self.launch = f"{self.base}/lti/launch"
        self.jwks = f"{self.base}/lti/jwks"
        self.config = f"{self.base}/lti/config"

    def on_tool(self, url: str) -> bool:
        """Whether a URL is one of the tool's own (a target link elsewhere is refused: the login
        endpoint must not redirect anywhere a caller names)."""
        return url == self.base or url.startswith(self.base + "/")


def tool_configuration(base_url: str, *, title: str, public_jwk: dict[str, Any] | None = None) -> dict[str, Any]:
    urls = ToolUrls(base_url)
    domain = urls.base.split("://", 1)[-1].split("/", 1)[0]
    config: dict[str, Any] = {
        "title": title,
        "description": "Homework graded automatically; scores go back to the course's gradebook.",
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "redirect_uris": [urls.launch],
        "public_jwk_url": urls.jwks,
        "deep_linking_url": urls.launch,
        "scopes": list(AGS_SCOPES),
        "claims": ["iss", "sub", "name", "email", "https://purl.imsglobal.org/spec/lti/claim/lis"],
        "messages": [
            {"type": RESOURCE_LINK_REQUEST, "target_link_uri": urls.launch},
            {"type": DEEP_LINKING_REQUEST, "target_link_uri": urls.launch},
        ],
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "domain": domain,
                "privacy_level": "public",
                "settings": {
                    "placements": [
                        {"placement": "assignment_selection", "message_type": DEEP_LINKING_REQUEST, "target_link_uri": urls.launch},
                        {"placement": "link_selection", "message_type": DEEP_LINKING_REQUEST, "target_link_uri": urls.launch},
                    ]
                },
            }
        ],
    }
    if public_jwk is not None:
        config["public_jwk"] = public_jwk
    return config
