"""The error shape: OpenAI-style ``{"error": {message, type, param, code}}`` with the
gateway's codes, for auth, unknown-clip and validation errors alike."""

from __future__ import annotations

from ...case import Catalog, expect
from .calls import refused
from .driver import GENERATE, Openaihk


def add_cases(catalog: Catalog, driver: Openaihk) -> None:
    @catalog.case("error-shape", "Errors are OpenAI-style, with the gateway's codes",
                  seed="seed 003: Authorization: Bearer hk-your-key", area="shapes")
    async def error_shape(ctx) -> None:
        checks = [
            (await ctx.call("POST", GENERATE, key=None, json={"gpt_description_prompt": "x"}),
             401, "missing_api_key", "authentication_error"),
            (await ctx.call("GET", f"/sunoapi/feed/{driver.unknown_id}", key="hk-not-a-key"),
             401, "invalid_api_key", "authentication_error"),
            (await ctx.call("GET", f"/sunoapi/feed/{driver.unknown_id}"),
             404, "clip_not_found", "invalid_request_error"),
            (await ctx.call("POST", GENERATE, json={"gpt_description_prompt": "x",
                                                    "mv": "chirp-v9"}),
             400, "invalid_request", "invalid_request_error"),
        ]
        for answer, status, code, kind in checks:
            refused(answer, status, code, f"{answer.method} {answer.url}")
            error = answer.data["error"]
            expect(set(error) == {"message", "type", "param", "code"},
                   f"error fields {sorted(error)}")
            expect(error["type"] == kind and error["message"],
                   f"error type {error['type']!r} (expected {kind!r}), "
                   f"message {error['message']!r}")
        expect(checks[-1][0].data["error"]["param"] == "mv",
               f"a bad mv names param {checks[-1][0].data['error']['param']!r}")
