"""A stand-in for Twilio's Messages API: its paths, form fields, auth, answers and error codes.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP Basic (account SID, auth
token) answers 201 and the message resource, or Twilio's error body
``{"code", "message", "more_info", "status"}``: 21211 for a number listed in
``invalid``, 21610 for one in ``unsubscribed``, 20003 for wrong credentials, 21602 for
an empty body, and 429 / 20429 with ``Retry-After`` while ``throttle`` is above zero.
"""

from __future__ import annotations

import base64
import itertools

from tests.channels.servers.http_standin import Answer, Request, StandIn

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-test-auth-token"


def _error(status: int, code: int, message: str, **headers: str) -> Answer:
    return Answer.of_json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        **headers,
    )


class TwilioStandIn(StandIn):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.invalid: set[str] = set()
        self.unsubscribed: set[str] = set()
        self.throttle = 0  # answer this many sends with 429 first
        self.retry_after = "1"
        self.fail_with_500 = 0
        self.messages: list[dict[str, str]] = []  # accepted sends, with their sid
        self._sids = itertools.count(1)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def handle(self, request: Request) -> Answer:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.method != "POST" or request.path != path:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        if self.throttle > 0:
            self.throttle -= 1
            return _error(429, 20429, "Too Many Requests", **{"Retry-After": self.retry_after})
        if self.fail_with_500 > 0:
            self.fail_with_500 -= 1
            return _error(500, 20500, "Internal Server Error")
        form = request.form()
        to = form.get("To", "")
        if not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        if to in self.invalid:
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = f"SM{next(self._sids):032x}"
        message = {**form, "sid": sid}
        with self._lock:
            self.messages.append(message)
        return Answer.of_json(
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": to,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "error_code": None,
                "error_message": None,
                "uri": f"{path[:-5]}/{sid}.json",
            },
        )
