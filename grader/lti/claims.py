"""The LTI 1.3 message's claims (names from the specifications) and the verified launch."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
RESOURCE_LINK = LTI + "resource_link"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
CUSTOM = LTI + "custom"
LIS = LTI + "lis"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
DL_MESSAGE = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
LTI_VERSION = "1.3.0"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE)

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
#: Context roles that make a launch staff (a teaching assistant is also written as a sub-role).
STAFF_ROLES = frozenset({
    MEMBERSHIP + "Instructor",
    MEMBERSHIP + "TeachingAssistant",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "Instructor",  # the simple names LTI 1.3 still allows in context roles
    "TeachingAssistant",
})
LEARNER_ROLES = frozenset({MEMBERSHIP + "Learner", "http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Learner", "Learner"})


class AgsEndpoint(BaseModel):
    scope: list[str] = []
    lineitems: str | None = None
    lineitem: str | None = None


class DeepLinkingSettings(BaseModel):
    deep_link_return_url: str
    accept_types: list[str] = []
    accept_presentation_document_targets: list[str] = []
    accept_multiple: bool = True
    auto_create: bool = False
    title: str | None = None
    text: str | None = None
    data: Any = None


class Launch(BaseModel):
    """A launch whose id_token was verified: who, from where, for what."""

    issuer: str
    client_id: str
    platform_id: int
    sub: str
    message_type: Literal["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]
    deployment_id: str
    roles: list[str] = []
    name: str = ""
    email: str = ""
    person_sourcedid: str = ""
    context_id: str | None = None
    context_title: str = ""
    resource_link_id: str | None = None
    target_link_uri: str = ""
    custom: dict[str, Any] = Field(default_factory=dict)
    ags: AgsEndpoint | None = None
    deep_linking: DeepLinkingSettings | None = None

    @property
    def staff(self) -> bool:
        return any(r in STAFF_ROLES for r in self.roles)

    @property
    def learner(self) -> bool:
        return any(r in LEARNER_ROLES for r in self.roles)
