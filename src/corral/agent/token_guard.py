"""Keeps executors' tokens to the executor API (`executor_tokens.py`): the authentication middleware accepts
any token the agent signed, so a request elsewhere that authenticated with an executor's token is a 403."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.agent.executor_tokens import is_executor_token
from corral.security.identity import claims_of
from corral.security.policy import Classifier, Surface

_ALLOWED = frozenset({Surface.EXECUTOR, Surface.PUBLIC})


class ExecutorTokenGuard:
    """Runs inside `AuthMiddleware`, which has put the token's claims in the scope."""

    def __init__(self, app: ASGIApp, classify: Classifier) -> None:
        self.app = app
        self.classify = classify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and is_executor_token(claims_of(scope))
            and self.classify(scope["method"], scope["path"]) not in _ALLOWED
        ):
            message = "an executor's token is good only for the executor API"
            await JSONResponse({"message": message}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)
