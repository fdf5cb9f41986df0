"""The service as an LTI 1.3 tool: the routes (the protocol is grader.lti).

    GET|POST /lti/login    OIDC login initiation from the platform -> redirect to its auth URL
    POST     /lti/launch   the id_token (form post): verified, then a session, then the page
    GET      /lti/jwks     the tool's public key set
    GET      /lti/config   the tool's configuration JSON (as `grader lti config` prints it)
    GET|POST /lti/deep-link  staff pick assignments; the signed response goes back to the LMS

The login's state rides in a cookie of its own, so only the browser that began a login can
finish it; its nonce is kept in the store and used once. A launch is a cross-site POST from
the platform: over HTTPS the state cookie is SameSite=None; Secure (browsers send no other
kind with it), on plain-HTTP development set-ups (platform and tool on one host) it is Lax.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from grader.lti.claims import DeepLinkingSettings, Launch
from grader.lti.config import ToolUrls, tool_configuration
from grader.lti.deep_linking import Picked, response_jwt
from grader.lti.keys import tool_key
from grader.lti.launch import LaunchError, LoginInitiation, PlatformKeys, auth_request_url, verify_launch
from grader.service.courseware import Courseware, NoSuchThing
from grader.service.identity import Identities, Identity, check_csrf, launch_subject
from grader.store.lti import STATE_LIFETIME, LtiLink, LtiStore

STATE_COOKIE = "lti_state"
DEEP_LINK_KEY = "lti_deep_link"
TOOL_URL_SETTING = "lti_tool_url"
MAX_FIELD_CHARS = 70_000  # an id_token is refused above 64 000 (grader.lti.launch)


def tool_base(lti: LtiStore, request: Request) -> str:
    """The tool's public URL: the one registered (`grader lti register --url`), else this request's."""
    return lti.setting(TOOL_URL_SETTING) or str(request.base_url).rstrip("/")


def add_lti_routes(
    app: FastAPI, cw: Courseware, identities: Identities, page: Callable[..., Response], who: Callable[[Request], Any], *, https_only: bool
) -> None:
    lti = LtiStore(cw.store)
    keys = PlatformKeys()
    key = None

    def the_key():  # type: ignore[no-untyped-def]
        nonlocal key
        if key is None:
            key = tool_key(lti)
        return key

    def refused(message: str, status: int = 401) -> HTTPException:
        return HTTPException(status, f"LTI launch refused: {message}")

    async def fields(request: Request) -> dict[str, str]:
        found = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            found.update({k: v for k, v in form.items() if isinstance(v, str)})
        return {k: v[:MAX_FIELD_CHARS] for k, v in found.items()}

    # -- step 1: the platform asks the tool to log a user in ------------------------------------------
    @app.api_route("/lti/login", methods=["GET", "POST"], include_in_schema=False)
    async def login(request: Request) -> Response:
        try:
            initiation = LoginInitiation.model_validate(await fields(request))
        except ValidationError:
            raise refused("a login initiation needs iss, login_hint and target_link_uri", 400) from None
        candidates = await to_thread.run_sync(lti.platforms, initiation.iss)
        if initiation.client_id is not None:
            candidates = [p for p in candidates if p.client_id == initiation.client_id]
        if len(candidates) != 1:
            raise refused(
                f"the platform {initiation.iss!r} is not registered with this course (`grader lti register`)" if not candidates
                else "several registrations share this issuer; the login must name its client_id", 400,
            )
        platform = candidates[0]
        if initiation.lti_deployment_id is not None and initiation.lti_deployment_id not in platform.deployment_ids:
            raise refused(f"deployment {initiation.lti_deployment_id!r} is not registered for this platform", 400)
        urls = ToolUrls(await to_thread.run_sync(tool_base, lti, request))
        if not urls.on_tool(initiation.target_link_uri):
            raise refused("the target link is not this tool's", 400)
        state, nonce = await to_thread.run_sync(lti.begin_login, platform.id)
        target = auth_request_url(platform, initiation, redirect_uri=urls.launch, state=state, nonce=nonce)
        response = RedirectResponse(target, status_code=302)
        secure = https_only or urls.base.startswith("https://")
        response.set_cookie(
            STATE_COOKIE, state, max_age=int(STATE_LIFETIME.total_seconds()), httponly=True, secure=secure, samesite="none" if secure else "lax", path="/lti/"
        )
        return response

    # -- step 2: the platform posts the signed id_token -------------------------------------------------
    @app.post("/lti/launch", include_in_schema=False)
    async def launch(request: Request) -> Response:
        form = await fields(request)
        state, token = form.get("state", ""), form.get("id_token", "")
        if form.get("error"):
            raise refused(f"the platform answered {form['error']}: {form.get('error_description', '')}".strip(), 400)
        cookie = request.cookies.get(STATE_COOKIE, "")
        if not state or not cookie or not hmac.compare_digest(state, cookie):
            raise refused("this browser did not start the login (state); open the link from the course again")
        begun = await to_thread.run_sync(lti.finish_login, state)
        if begun is None:
            raise refused("the login has expired or was already used; open the link from the course again")
        platform_id, nonce = begun
        platform = await to_thread.run_sync(lti.platform_by_id, platform_id)
        if platform is None:
            raise refused("the platform is no longer registered")
        try:
            verified = await to_thread.run_sync(lambda: verify_launch(token, platform, nonce=nonce, keys=keys))
        except LaunchError as exc:
            raise refused(str(exc)) from None
        if not await to_thread.run_sync(lti.use_nonce, platform_id, nonce):
            raise refused("this launch was used before (replayed nonce)")
        if verified.message_type == "LtiDeepLinkingRequest":
            if not verified.staff:
                raise refused("only instructors place assignments (deep linking)", 403)
            accepted = verified.deep_linking.accept_types if verified.deep_linking is not None else []
            if accepted and "ltiResourceLink" not in accepted:
                raise refused("this placement accepts no LTI resource links (the tool places assignments as ltiResourceLink)", 400)
        try:
            digest, staff, assignment = await to_thread.run_sync(enter, verified, request)
        except PermissionError as exc:
            raise refused(str(exc), 403) from None
        identities.enter(request, digest)
        if verified.message_type == "LtiDeepLinkingRequest":
            assert verified.deep_linking is not None
            request.session[DEEP_LINK_KEY] = {
                "platform_id": platform_id, "deployment_id": verified.deployment_id, "context_title": verified.context_title,
                "settings": verified.deep_linking.model_dump(mode="json"),
            }
            where = "/lti/deep-link"
        elif assignment is not None:
            where = f"/staff/assignments/{assignment}" if staff else f"/assignments/{assignment}"
        else:
            where = "/staff" if staff else "/"
        response = RedirectResponse(where, status_code=303)
        response.delete_cookie(STATE_COOKIE, path="/lti/")
        return response

    def enter(launch: Launch, request: Request) -> tuple[str, bool, str | None]:
        """Map the launch's user (once), note the course and the assignment's line item; the
        token hash to open a session with, whether staff, and the assignment launched."""
        known = lti.user(launch.platform_id, launch.sub)
        subject, role = launch_subject(launch, cw.roster, lti.subject_taken)
        user = lti.keep_user(launch.platform_id, launch.sub, known.subject if known else subject, role)
        assignment = launched_assignment(launch, tool_base(lti, request))
        if launch.context_id is not None:
            lti.keep_member(launch.platform_id, launch.context_id, launch.sub)
            if assignment is not None and launch.ags is not None:
                lti.keep_link(LtiLink(
                    platform_id=launch.platform_id, context_id=launch.context_id, assignment=assignment, deployment_id=launch.deployment_id,
                    resource_link_id=launch.resource_link_id, lineitems_url=launch.ags.lineitems, lineitem_url=launch.ags.lineitem, scopes=launch.ags.scope,
                ))
        return user.token_hash, role == "staff", assignment

    def launched_assignment(launch: Launch, base: str) -> str | None:
        """The custom parameter `assignment` (set by deep linking), else the assignment page the
        launch targets; None for a link to the tool as a whole."""
        candidates = [launch.custom.get("assignment")]
        target = urlsplit(launch.target_link_uri)
        if ToolUrls(base).on_tool(launch.target_link_uri) and target.path.startswith("/assignments/"):
            candidates.append(target.path.removeprefix("/assignments/").strip("/"))
        for name in candidates:
            if isinstance(name, str) and name:
                try:
                    cw.info(name)
                    return name
                except NoSuchThing:
                    continue
        return None

    # -- the tool's keys and configuration --------------------------------------------------------------
    @app.get("/lti/jwks", include_in_schema=False)
    async def jwks() -> JSONResponse:
        found = await to_thread.run_sync(the_key)
        return JSONResponse(found.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @app.get("/lti/config", include_in_schema=False)
    async def config(request: Request) -> JSONResponse:
        base = await to_thread.run_sync(tool_base, lti, request)
        found = await to_thread.run_sync(the_key)
        return JSONResponse(tool_configuration(base, title=cw.course.title or "grader", public_jwk=found.public_jwk()))

    # -- deep linking: staff pick assignments -----------------------------------------------------------
    def deep_link_session(request: Request) -> dict[str, Any]:
        found = request.session.get(DEEP_LINK_KEY)
        if not isinstance(found, dict):
            raise HTTPException(400, "no deep linking request from the LMS is open: start again from the course's 'add an activity' page")
        return found

    async def staff_only(request: Request) -> Identity:
        person: Identity = await who(request)
        if not person.staff:
            raise HTTPException(403, "staff only")
        return person

    @app.get("/lti/deep-link", include_in_schema=False)
    async def pick(request: Request) -> Response:
        person = await staff_only(request)
        opened = deep_link_session(request)
        settings = DeepLinkingSettings.model_validate(opened["settings"])
        return page(request, "lti_pick.html", person, assignments=cw.assignments(), multiple=settings.accept_multiple, context_title=opened.get("context_title", ""))

    @app.post("/lti/deep-link", include_in_schema=False)
    async def picked(request: Request) -> Response:
        person = await staff_only(request)
        form = await request.form()
        sent = form.get("csrf_token")
        check_csrf(request, person, sent if isinstance(sent, str) else None)
        opened = deep_link_session(request)
        settings = DeepLinkingSettings.model_validate(opened["settings"])
        chosen = [str(a) for a in form.getlist("assignment")][:200]
        if not settings.accept_multiple:
            chosen = chosen[:1]
        items = []
        for name in chosen:
            try:
                info = cw.info(name)
            except NoSuchThing as exc:
                raise HTTPException(400, str(exc)) from None
            items.append(Picked(assignment=info.id, title=info.title, max_score=info.max_score))
        platform = await to_thread.run_sync(lti.platform_by_id, int(opened["platform_id"]))
        if platform is None:
            raise HTTPException(400, "the platform is no longer registered")
        base = await to_thread.run_sync(tool_base, lti, request)
        signed = response_jwt(
            await to_thread.run_sync(the_key), client_id=platform.client_id, issuer=platform.issuer, deployment_id=str(opened["deployment_id"]),
            settings=settings, items=items, tool_url=base,
        )
        del request.session[DEEP_LINK_KEY]  # a deep linking request is answered once
        message = f"Placing {len(items)} assignment(s) in the course…" if items else "Nothing picked: returning to the course."
        return page(request, "lti_return.html", person, return_url=settings.deep_link_return_url, jwt=signed, message=message)

