"""A customer signs up through the client openapi-python-client generated from /openapi.json:
register -> verify the e-mail with the mailed code -> sign in -> GET /me. Run by
tests/e2e/generated_client.rs as `python sign_up.py BASE_URL CLIENT_PARENT_DIR EMAIL`; prints
the profile as JSON. Every call is typed by the generated models; any answer the document does
not describe raises (raise_on_unexpected_status)."""

import json
import re
import sys
import time

import httpx

base_url, client_dir, email = sys.argv[1:4]
sys.path.insert(0, client_dir)

from portico_client import AuthenticatedClient, Client  # noqa: E402
from portico_client.api.me import profile  # noqa: E402
from portico_client.api.registration import register, verify  # noqa: E402
from portico_client.api.sessions import sign_in  # noqa: E402
from portico_client.models import (  # noqa: E402
    AccountType,
    Profile,
    RegistrationAccepted,
    RegistrationRequest,
    SignInRequest,
    Tokens,
    Verified,
    VerifyByCode,
)

DEVICE = "generated-client-device-0123456789"
PASSWORD = "generated client sign-up passphrase"


def expect(response, status, model):
    assert response.status_code == status, f"{response.status_code}: {response.content!r}"
    assert isinstance(response.parsed, model), f"not a {model.__name__}: {response.parsed!r}"
    return response.parsed


def mailed_code(address):
    """The six digits of the verification mail to `address`, from the local stack's outbox."""
    for _ in range(100):
        for message in httpx.get(f"{base_url}/_local/outbox", timeout=10).json():
            if address in message.get("to", []) and message.get("channel") == "email":
                found = re.search(r"\b(\d{6})\b", message.get("body", ""))
                if found:
                    return found.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no verification mail to {address}")


client = Client(base_url=base_url, raise_on_unexpected_status=True)
body = RegistrationRequest(email=email, password=PASSWORD, name="Gene Rated", account_type=AccountType.PERSON)
expect(register.sync_detailed(client=client, body=body, x_device_id=DEVICE), 202, RegistrationAccepted)
verified = verify.sync_detailed(client=client, body=VerifyByCode(email=email, code=mailed_code(email)))
assert expect(verified, 200, Verified).email_verified
signed_in = sign_in.sync_detailed(client=client, body=SignInRequest(email=email, password=PASSWORD), x_device_id=DEVICE)
tokens = expect(signed_in, 200, Tokens)
me = AuthenticatedClient(base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True)
me = me.with_headers({"X-Device-Id": DEVICE})
mine = expect(profile.sync_detailed(client=me), 200, Profile)
print(json.dumps(mine.to_dict()))
