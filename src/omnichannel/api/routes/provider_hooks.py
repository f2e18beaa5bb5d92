"""Callbacks from SMS and WeChat providers: delivery states, replies, follows and unfollows.

Each request proves it comes from the provider, the way that provider signs:

- Twilio: ``X-Twilio-Signature``, HMAC-SHA1 under the ``sms`` channel's auth token of the
  URL Twilio was given (``public_base_url`` + the path: what we put in ``StatusCallback``
  and what the number's messaging webhook is set to) followed by the sorted form fields;
- WeChat: ``signature`` = SHA-1 of the sorted (``wechat.callback_token``, ``timestamp``,
  ``nonce``) in the query, for the server-verification ``GET`` (answered with ``echostr``)
  and every pushed ``POST``.

A request without a valid signature is answered 403 and changes nothing. What the fields
mean is ``channels/provider_events.py``'s.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.api.ingest_calls import emitter
from omnichannel.api.services import Services
from omnichannel.channels.provider_events import ProviderEvents

log = logging.getLogger(__name__)
router = APIRouter(tags=["provider hooks"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _forbidden(field: str, accepted: str) -> JSONResponse:
    message = f"{field} is not accepted: expected {accepted}"
    return JSONResponse(
        {"detail": {"field": field, "value": "(hidden)", "message": message}}, status_code=403
    )


def _not_configured(channel: str) -> JSONResponse:
    message = f"the {channel} channel is not configured in channels.yaml"
    return JSONResponse({"detail": {"message": message}}, status_code=404)


async def _twilio_form(request: Request, services: Services) -> dict[str, str] | Response:
    from omnichannel.channels.sms import SmsSettings, signature_valid

    config = services.platform.messages.config
    if "sms" not in config.configured():
        return _not_configured("sms")
    settings = config.channel("sms")
    assert isinstance(settings, SmsSettings)
    # Twilio posts application/x-www-form-urlencoded; parsed here, not by request.form(),
    # which needs python-multipart for a format Twilio never sends.
    body = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    url = config.public_base_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    token = settings.auth_token.get_secret_value()
    if not signature_valid(token, url, form, request.headers.get("x-twilio-signature", "")):
        return _forbidden(
            "X-Twilio-Signature",
            f"Twilio's signature of {url} under the sms channel's auth_token",
        )
    return form


@router.post(
    "/hooks/sms/twilio/status",
    summary="Twilio status callback: delivered / undelivered / failed for a sent SMS",
    responses={403: {"description": "No valid X-Twilio-Signature."}},
)
async def twilio_status(request: Request, services: ServicesDep) -> Any:
    form = await _twilio_form(request, services)
    if isinstance(form, Response):
        return form
    events = ProviderEvents(services.platform)
    return await run_in_threadpool(events.sms_status, form)


@router.post(
    "/hooks/sms/twilio/inbound",
    summary="Twilio inbound SMS: a reply becomes a Message Received event; STOP unsubscribes",
    responses={403: {"description": "No valid X-Twilio-Signature."}},
    response_class=Response,
)
async def twilio_inbound(request: Request, services: ServicesDep) -> Response:
    form = await _twilio_form(request, services)
    if isinstance(form, Response):
        return form
    events = ProviderEvents(services.platform)
    emit = emitter(services, origin="provider hook /hooks/sms/twilio/inbound")
    await run_in_threadpool(events.sms_inbound, form, emit)
    # An empty TwiML answer: no automatic reply (Twilio confirms STOP/START itself).
    return Response(EMPTY_TWIML, media_type="text/xml")


def _wechat_signed(request: Request, services: Services) -> Response | None:
    from omnichannel.channels.wechat import WechatSettings, callback_valid

    config = services.platform.messages.config
    if "wechat" not in config.configured():
        return _not_configured("wechat")
    settings = config.channel("wechat")
    assert isinstance(settings, WechatSettings)
    if settings.callback_token is None:
        return _forbidden("signature", "a wechat.callback_token to be set to verify callbacks")
    q = request.query_params
    token = settings.callback_token.get_secret_value()
    if not callback_valid(
        token, q.get("timestamp", ""), q.get("nonce", ""), q.get("signature", "")
    ):
        return _forbidden("signature", "sha1 of the sorted wechat.callback_token, timestamp, nonce")
    return None


def _wechat_decrypted(request: Request, services: Services, body: bytes) -> bytes | Response:
    """The inner XML of a safe-mode message, once its ``msg_signature`` holds."""
    from omnichannel.channels.wechat import (
        WechatSettings,
        decrypt_message,
        message_signature,
        parse_callback,
    )

    settings = services.platform.messages.config.channel("wechat")
    assert isinstance(settings, WechatSettings) and settings.callback_token is not None
    if settings.encoding_aes_key is None:
        return _forbidden("encrypt_type", "wechat.encoding_aes_key to be set to read aes messages")
    encrypted = parse_callback(body).get("Encrypt", "")
    q = request.query_params
    expected = message_signature(
        settings.callback_token.get_secret_value(),
        q.get("timestamp", ""),
        q.get("nonce", ""),
        encrypted,
    )
    if not hmac.compare_digest(expected, q.get("msg_signature", "")):
        return _forbidden("msg_signature", "sha1 of the sorted token, timestamp, nonce and Encrypt")
    return decrypt_message(settings.encoding_aes_key.get_secret_value(), settings.app_id, encrypted)


@router.get(
    "/hooks/wechat",
    summary="WeChat server verification: answers echostr when the signature is valid",
    response_class=PlainTextResponse,
    responses={403: {"description": "No valid signature."}},
)
async def wechat_verify(request: Request, services: ServicesDep) -> Response:
    refused = _wechat_signed(request, services)
    if refused is not None:
        return refused
    return PlainTextResponse(request.query_params.get("echostr", ""))


@router.post(
    "/hooks/wechat",
    summary="WeChat pushed messages and events (template send finished, follow, unfollow, text)",
    response_class=PlainTextResponse,
    responses={403: {"description": "No valid signature."}},
)
async def wechat_callback(request: Request, services: ServicesDep) -> Response:
    from omnichannel.channels.wechat import parse_callback

    refused = _wechat_signed(request, services)
    if refused is not None:
        return refused
    body = await request.body()
    if request.query_params.get("encrypt_type") == "aes":
        opened = _wechat_decrypted(request, services, body)
        if isinstance(opened, Response):
            return opened
        body = opened
    fields = parse_callback(body)
    events = ProviderEvents(services.platform)
    emit = emitter(services, origin="provider hook /hooks/wechat")
    result = await run_in_threadpool(events.wechat_callback, fields, emit)
    log.debug("wechat callback: %s", result)
    # WeChat retries three times unless it reads "success" (or an empty body).
    return PlainTextResponse("success")
