"""A small LTI 1.3 platform for the tests: a real HTTP server on a free loopback port (FastAPI
under uvicorn, in a thread) with its own RSA key and JWKS. It does what an LMS does to a tool:
the OIDC login (it sends the browser to the tool's login initiation URL, checks the tool's
authorisation request, signs the id_token and returns the auto-posting form), the OAuth 2
token endpoint (it verifies the tool's signed client assertion against the tool's JWKS, fetched
over HTTP), line item containers, score posts (recorded as received) and the deep linking
return URL (it verifies the tool's signed response and makes the line items it asks for).

Written here from the specifications, independently of grader.lti: it shares no code with it.
Tamper switches on a launch (another key, expired, another audience...) make the forgeries the
tests expect the tool to refuse.
"""

from __future__ import annotations

import functools
import html
import re
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jwt.algorithms import RSAAlgorithm

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
READONLY_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """An ASGI app on a loopback port, in a daemon thread; stopped (bounded) by `stop`."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start in 20 s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@functools.lru_cache(maxsize=None)
def _rsa(name: str = "platform") -> rsa.RSAPrivateKey:
    """One key per name for the whole run (making RSA keys is the slow part of a platform)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class User:
    sub: str
    roles: list[str]
    name: str = ""
    email: str = ""
    sourcedid: str = ""


@dataclass
class LaunchPlan:
    """What the platform signs for one login (and how to spoil it, for the refusal tests)."""

    user: User
    message_type: str = "LtiResourceLinkRequest"
    context_id: str = "course-1"
    resource_link_id: str = "rl-1"
    target_link_uri: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    lineitem: str | None = None  # the AGS claim's line item (a resource link with one)
    with_ags: bool = True
    tamper: dict[str, Any] = field(default_factory=dict)  # key / exp / aud / iss / deployment / nonce / version


class Platform:
    def __init__(self, client_id: str = "grader-tool", deployment_id: str = "dep-1") -> None:
        self.key = _rsa()
        self.kid = "platform-key-1"
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.tool_login = ""
        self.tool_launch = ""
        self.tool_jwks = ""
        self.plans: dict[str, LaunchPlan] = {}
        self.signed: list[dict[str, Any]] = []  # id_token bodies as signed
        self.auth_requests: list[dict[str, str]] = []
        self.tokens: dict[str, list[str]] = {}  # access token -> scopes
        self.assertions: list[dict[str, Any]] = []
        self.line_items: dict[str, dict[str, Any]] = {}  # id (its URL) -> line item
        self.scores: list[dict[str, Any]] = []  # {"lineitem": url, "body": ..., "content_type": ...}
        self.deep_links: list[dict[str, Any]] = []  # verified deep linking responses
        self.fail_scores = 0  # the next n score posts answer 503
        self.lock = threading.Lock()
        self.server = ThreadServer(self._app())
        self.url = self.server.url
        self.issuer = self.url

    def stop(self) -> None:
        self.server.stop()

    def connect(self, tool_url: str) -> None:
        self.tool_login = f"{tool_url}/lti/login"
        self.tool_launch = f"{tool_url}/lti/launch"
        self.tool_jwks = f"{tool_url}/lti/jwks"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.url}/contexts/{context_id}/lineitems"

    def add_line_item(self, context_id: str, **item: Any) -> str:
        url = f"{self.lineitems_url(context_id)}/{uuid.uuid4().hex[:8]}"
        with self.lock:
            self.line_items[url] = {"id": url, "context": context_id, **item}
        return url

    def scores_for(self, lineitem: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s["body"] for s in self.scores if s["lineitem"] == lineitem]

    def wait_scores(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The score posts once there are `count` of them (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.scores) >= count:
                    return list(self.scores)
            if time.monotonic() > deadline:
                with self.lock:
                    raise AssertionError(f"expected {count} score posts within {timeout} s, got {len(self.scores)}: {self.scores}")
            time.sleep(0.05)

    # -- the id_token ------------------------------------------------------------------------------
    def id_token(self, plan: LaunchPlan, nonce: str) -> str:
        now = int(time.time())
        t = plan.tamper
        body: dict[str, Any] = {
            "iss": t.get("iss", self.issuer),
            "aud": t.get("aud", self.client_id),
            "sub": plan.user.sub,
            "iat": now - t.get("age", 0),
            "exp": now + 300 - t.get("age", 0),
            "nonce": t.get("nonce", nonce),
            "name": plan.user.name,
            "email": plan.user.email,
            CLAIM + "message_type": plan.message_type,
            CLAIM + "version": t.get("version", "1.3.0"),
            CLAIM + "deployment_id": t.get("deployment", self.deployment_id),
            CLAIM + "target_link_uri": plan.target_link_uri,
            CLAIM + "roles": plan.user.roles,
            CLAIM + "context": {"id": plan.context_id, "title": "Deep learning"},
            CLAIM + "lis": {"person_sourcedid": plan.user.sourcedid} if plan.user.sourcedid else {},
            CLAIM + "custom": plan.custom,
        }
        if "azp" in t:
            body["azp"] = t["azp"]
        if plan.message_type == "LtiResourceLinkRequest":
            body[CLAIM + "resource_link"] = {"id": plan.resource_link_id}
        else:
            body[DL] = {
                "deep_link_return_url": f"{self.url}/deep_link_return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["window", "iframe"],
                "accept_multiple": True,
                "data": "opaque-platform-data",
            }
        if plan.with_ags:
            ags: dict[str, Any] = {"scope": [LINEITEM_SCOPE, READONLY_SCOPE, SCORE_SCOPE], "lineitems": self.lineitems_url(plan.context_id)}
            if plan.lineitem:
                ags["lineitem"] = plan.lineitem
            body[AGS] = ags
        key = t.get("key", self.key)
        self.signed.append(body)
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": t.get("kid", self.kid)})

    # -- checks of what the tool signs ---------------------------------------------------------------
    def verify_tool_jwt(self, token: str, audience: str) -> dict[str, Any]:
        """The tool's JWT verified with the key its JWKS URL publishes (fetched now)."""
        jwks = httpx.get(self.tool_jwks, timeout=5).json()
        kid = jwt.get_unverified_header(token)["kid"]
        match = [k for k in jwks["keys"] if k.get("kid") == kid]
        assert match, f"the tool's JWKS has no key {kid}"
        public = RSAAlgorithm.from_jwk(match[0])
        return jwt.decode(token, public, algorithms=["RS256"], audience=audience, options={"require": ["iss", "aud", "exp", "iat"]})

    def _bearer(self, request: Request, *any_of: str) -> None:
        header = request.headers.get("authorization", "")
        scopes = self.tokens.get(header.removeprefix("Bearer ").strip())
        if scopes is None:
            raise HTTPException(401, "no valid access token")
        if not set(any_of) & set(scopes):
            raise HTTPException(403, f"the token lacks {' or '.join(any_of)}")

    # -- the platform's HTTP side ----------------------------------------------------------------------
    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            import json

            jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
            return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

        @app.get("/auth")
        def auth(request: Request) -> Response:
            q = dict(request.query_params)
            self.auth_requests.append(q)
            expected = {"response_type": "id_token", "scope": "openid", "response_mode": "form_post", "prompt": "none", "client_id": self.client_id}
            for name, value in expected.items():
                if q.get(name) != value:
                    raise HTTPException(400, f"auth request: {name} must be {value!r}, got {q.get(name)!r}")
            if q.get("redirect_uri") != self.tool_launch:
                raise HTTPException(400, f"auth request: redirect_uri {q.get('redirect_uri')!r} is not registered")
            plan = self.plans.get(q.get("lti_message_hint", ""))
            if plan is None or q.get("login_hint") != plan.user.sub or not q.get("state") or not q.get("nonce"):
                raise HTTPException(400, "auth request: unknown hints, or no state/nonce")
            token = self.id_token(plan, q["nonce"])
            page = (
                f'<form method="post" action="{html.escape(self.tool_launch)}">'
                f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
                f'<input type="hidden" name="state" value="{html.escape(q["state"])}"></form>'
            )
            return HTMLResponse(page)

        @app.post("/token")
        def token(
            grant_type: str = Form(...), client_assertion_type: str = Form(...), client_assertion: str = Form(...), scope: str = Form(...)
        ) -> JSONResponse:
            if grant_type != "client_credentials" or client_assertion_type != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            try:
                claims = self.verify_tool_jwt(client_assertion, audience=self.token_url)
            except Exception as exc:
                return JSONResponse({"error": "invalid_client", "error_description": str(exc)}, status_code=401)
            if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id or not claims.get("jti"):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            self.assertions.append(claims)
            access = secrets.token_urlsafe(16)
            self.tokens[access] = scope.split()
            return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": scope})

        @app.get("/contexts/{context}/lineitems")
        def list_items(context: str, request: Request) -> Response:
            self._bearer(request, READONLY_SCOPE, LINEITEM_SCOPE)
            q = request.query_params
            with self.lock:
                items = [i for i in self.line_items.values() if i["context"] == context]
            if "resource_id" in q:
                items = [i for i in items if i.get("resourceId") == q["resource_id"]]
            body = [{k: v for k, v in i.items() if k != "context"} for i in items]
            return JSONResponse(body, media_type="application/vnd.ims.lis.v2.lineitemcontainer+json")

        @app.post("/contexts/{context}/lineitems")
        async def create_item(context: str, request: Request) -> Response:
            self._bearer(request, LINEITEM_SCOPE)
            item = await request.json()
            url = self.add_line_item(context, **{k: item[k] for k in ("scoreMaximum", "label", "resourceId", "tag", "resourceLinkId") if k in item})
            return JSONResponse({**item, "id": url}, media_type="application/vnd.ims.lis.v2.lineitem+json")

        @app.post("/contexts/{context}/lineitems/{item}/scores")
        async def score(context: str, item: str, request: Request) -> Response:
            self._bearer(request, SCORE_SCOPE)
            url = f"{self.lineitems_url(context)}/{item}"
            if url not in self.line_items:
                raise HTTPException(404, "no such line item")
            with self.lock:
                if self.fail_scores > 0:
                    self.fail_scores -= 1
                    return Response("busy", status_code=503)
            body = await request.json()
            with self.lock:
                self.scores.append({"lineitem": url, "body": body, "content_type": request.headers.get("content-type")})
            return Response(status_code=204)

        @app.post("/deep_link_return")
        def deep_link_return(JWT: str = Form(...)) -> Response:
            claims = self.verify_tool_jwt(JWT, audience=self.issuer)
            if claims.get("iss") != self.client_id:
                raise HTTPException(400, "the response is not from the tool's client id")
            self.deep_links.append(claims)
            # as a platform does: a resource link per item, and a line item for each that asks
            for n, content in enumerate(claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", [])):
                li = content.get("lineItem")
                if content.get("type") == "ltiResourceLink" and li:
                    self.add_line_item("course-1", resourceLinkId=f"dl-{n}", **li)
            return HTMLResponse("<p>placed</p>")

        return app


# -- a browser's part, over httpx: the tool and the platform are real servers -----------------------
FORM = re.compile(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def parse_form(page: str, carrying: str | None = None) -> tuple[str, dict[str, str]]:
    """(action, hidden fields) of the page's first form, or of its first form with a field `carrying`."""
    for action, body in FORM.findall(page):
        fields = {html.unescape(k): html.unescape(v) for k, v in HIDDEN.findall(body)}
        if carrying is None or carrying in fields:
            return html.unescape(action), fields
    raise AssertionError(f"no such form in {page[:500]}")


class Browser:
    """Cookies and redirects as a browser keeps them (one httpx client), following the LTI
    login the way the platform's pages would make a browser do."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=20, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def start(self, platform: Platform, plan: LaunchPlan) -> httpx.Response:
        """The platform's login initiation; the tool's answer (a redirect to the platform)."""
        hint = secrets.token_urlsafe(8)
        platform.plans[hint] = plan
        params = {"iss": platform.issuer, "login_hint": plan.user.sub, "target_link_uri": plan.target_link_uri or platform.tool_launch,
                  "lti_message_hint": hint, "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id}
        return self.http.get(platform.tool_login + "?" + urlencode(params))

    def launch(self, platform: Platform, plan: LaunchPlan) -> httpx.Response:
        """The whole flow; the tool's answer to the launch (a redirect to its page, or a refusal)."""
        answer = self.start(platform, plan)
        assert answer.status_code == 302, answer.text
        form = self.http.get(answer.headers["location"])
        assert form.status_code == 200, form.text
        action, fields = parse_form(form.text)
        return self.http.post(action, data=fields)

    def auth_form(self, platform: Platform, plan: LaunchPlan) -> tuple[str, dict[str, str]]:
        """Up to the id_token form (not posted): for the replay and state tests."""
        answer = self.start(platform, plan)
        assert answer.status_code == 302, answer.text
        form = self.http.get(answer.headers["location"])
        return parse_form(form.text)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
