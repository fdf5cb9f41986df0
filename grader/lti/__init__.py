"""The grading service as an LTI 1.3 tool (1EdTech LTI Core 1.3, Deep Linking 2.0, Assignment
and Grade Services 2.0), for Canvas, Moodle, Blackboard and any other LTI Advantage platform.

The protocol only, with no web framework in it: `claims` (the message's names and the model
of a verified launch), `keys` (the tool's key pair and JWKS), `launch` (login initiation and
the id_token's verification), `deep_linking` (the signed response), `ags` (the client-
credentials token, line items, scores), `passback` (which score goes where, and retries),
`config` (the tool's configuration for an LMS admin). The routes are grader.service.lti.

Why PyJWT[crypto] and a thin layer of ours rather than pylti1p3: pylti1p3 has had no release
since 2022 and ships adapters for Django and Flask only (its FastAPI use would go through its
request/cookie/session abstractions, written for those frameworks), and it reaches platforms
with `requests` while the service uses httpx. What LTI needs from a library is JOSE: RS256
signatures, a JWKS client with caching and key-rotation refresh, and the registered claims'
checks (exp, iat, aud, iss) — PyJWT does all of that and is maintained. The LTI rules on top
(state, nonce, deployment, message type, roles, azp) are a few dozen lines, written here
against the specifications and tested against a platform of the tests' own.
"""

import importlib.util


def installed() -> bool:
    """Whether the lti extra (PyJWT with cryptography, httpx) is installed: without it the
    service runs without its LTI routes and passback."""
    return all(importlib.util.find_spec(name) is not None for name in ("jwt", "cryptography", "httpx"))
