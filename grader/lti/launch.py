"""The OIDC third-party-initiated login and the launch's id_token (LTI Core 1.3 §5.1 of the
security framework): the platform asks the tool to log in, the tool sends the browser to the
platform's authorisation endpoint with a fresh state and nonce, the platform posts back a
signed id_token. Everything the tool trusts about a user comes from that token, verified here.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

import jwt
from pydantic import BaseModel, ValidationError

from grader.lti import claims as c
from grader.lti.claims import AgsEndpoint, DeepLinkingSettings, Launch
from grader.store.lti import Platform

#: Clock skew allowed between the platform and the tool, in seconds.
LEEWAY = 60
#: A launch token larger than this is refused before it is parsed.
MAX_TOKEN_CHARS = 64_000


class LaunchError(Exception):
    """A login or launch the tool refuses; the message says why (shown to the user)."""


class LoginInitiation(BaseModel):
    """The platform's login initiation request (GET query or POST form)."""

    iss: str
    login_hint: str
    target_link_uri: str
    lti_message_hint: str | None = None
    lti_deployment_id: str | None = None
    client_id: str | None = None


def auth_request_url(platform: Platform, login: LoginInitiation, *, redirect_uri: str, state: str, nonce: str) -> str:
    """Where the browser goes next: the platform's authorisation endpoint with an OIDC
    implicit-flow request (id_token posted back as a form), `prompt=none` (the user is signed
    in at the platform already), the hints echoed unaltered."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "login_hint": login.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if login.lti_message_hint is not None:
        params["lti_message_hint"] = login.lti_message_hint
    sep = "&" if "?" in platform.auth_login_url else "?"
    return platform.auth_login_url + sep + urlencode(params)


class PlatformKeys:
    """The platforms' public keys, fetched from their JWKS URLs and cached (PyJWT's client:
    a set is kept for five minutes, an unknown kid fetches it again once)."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._clients: dict[str, jwt.PyJWKClient] = {}
        self._lock = threading.Lock()

    def key_for(self, jwks_url: str, token: str) -> Any:
        with self._lock:
            client = self._clients.get(jwks_url)
            if client is None:
                client = self._clients[jwks_url] = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=self.timeout)
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise LaunchError(f"the platform's keys could not be fetched from {jwks_url}: {exc}") from None
        except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
            raise LaunchError(f"the launch is not signed with a key of the platform ({exc})") from None


def verify_launch(token: str, platform: Platform, *, nonce: str, keys: PlatformKeys, leeway: int = LEEWAY) -> Launch:
    """The launch's claims once the token is proven to be the platform's, for this tool, fresh,
    from a registered deployment, and answering this login (its nonce); else `LaunchError`."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise LaunchError("the launch carries no id_token (or one too large)")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise LaunchError("the id_token is not a JWT") from None
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise LaunchError("the id_token must be signed with RS256 and name its key (kid)")
    key = keys.key_for(platform.jwks_url, token)
    try:
        body = jwt.decode(
            token, key, algorithms=["RS256"], audience=platform.client_id, issuer=platform.issuer, leeway=leeway,
            options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
        )
    except jwt.ExpiredSignatureError:
        raise LaunchError("the launch has expired: start it again from the course page") from None
    except jwt.InvalidAudienceError:
        raise LaunchError("the launch is meant for another tool (aud)") from None
    except jwt.InvalidIssuerError:
        raise LaunchError("the launch comes from another platform than the one this login began with (iss)") from None
    except jwt.InvalidSignatureError:
        raise LaunchError("the launch's signature does not verify with the platform's key") from None
    except jwt.InvalidTokenError as exc:
        raise LaunchError(f"the launch's token is not valid: {exc}") from None
    aud = body["aud"]
    if isinstance(aud, list) and len(aud) > 1 and body.get("azp") != platform.client_id:
        raise LaunchError("the launch names several audiences but not this tool as the authorised party (azp)")
    if "azp" in body and body["azp"] != platform.client_id:
        raise LaunchError("the launch's authorised party (azp) is another tool")
    if body["nonce"] != nonce:
        raise LaunchError("the launch does not answer this login (nonce)")
    return _launch(body, platform)


def _launch(body: dict[str, Any], platform: Platform) -> Launch:
    if body.get(c.VERSION) != c.LTI_VERSION:
        raise LaunchError(f"only LTI {c.LTI_VERSION} launches are served (got {body.get(c.VERSION)!r})")
    kind = body.get(c.MESSAGE_TYPE)
    if kind not in (c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST):
        raise LaunchError(f"message type {kind!r} is not served")
    deployment = body.get(c.DEPLOYMENT_ID)
    if not isinstance(deployment, str) or deployment not in platform.deployment_ids:
        raise LaunchError(f"deployment {deployment!r} is not registered for this platform (`grader lti register --deployment ...`)")
    roles = body.get(c.ROLES)
    if not isinstance(roles, list):
        raise LaunchError("the launch has no roles claim")
    sub = body.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise LaunchError("the launch names no user (sub)")
    context = body.get(c.CONTEXT) if isinstance(body.get(c.CONTEXT), dict) else {}
    resource = body.get(c.RESOURCE_LINK) if isinstance(body.get(c.RESOURCE_LINK), dict) else {}
    lis = body.get(c.LIS) if isinstance(body.get(c.LIS), dict) else {}
    custom = body.get(c.CUSTOM) if isinstance(body.get(c.CUSTOM), dict) else {}
    if kind == c.RESOURCE_LINK_REQUEST and not resource.get("id"):
        raise LaunchError("a resource link launch must name its resource link")
    try:
        ags = AgsEndpoint.model_validate(body[c.AGS_ENDPOINT]) if isinstance(body.get(c.AGS_ENDPOINT), dict) else None
        dl = DeepLinkingSettings.model_validate(body[c.DEEP_LINKING_SETTINGS]) if isinstance(body.get(c.DEEP_LINKING_SETTINGS), dict) else None
    except ValidationError as exc:
        raise LaunchError(f"the launch's service claims cannot be read: {exc.errors()[0]['msg']}") from None
    if kind == c.DEEP_LINKING_REQUEST and dl is None:
        raise LaunchError("a deep linking request must carry its settings (deep_link_return_url)")
    return Launch(
        issuer=platform.issuer, client_id=platform.client_id, platform_id=platform.id, sub=sub, message_type=kind, deployment_id=deployment,
        roles=[r for r in roles if isinstance(r, str)], name=_text(body.get("name")), email=_text(body.get("email")),
        person_sourcedid=_text(lis.get("person_sourcedid")), context_id=_text(context.get("id")) or None, context_title=_text(context.get("title")),
        resource_link_id=_text(resource.get("id")) or None, target_link_uri=_text(body.get(c.TARGET_LINK_URI)),
        custom={str(k): v for k, v in custom.items()}, ags=ags, deep_linking=dl,
    )


def _text(value: Any, limit: int = 400) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""
