"""Session cookies: signed, tamper-evident, and nothing but the signer's own accepted."""

import base64
import json

from trdnav.web.session import SessionData, SessionSigner

KEY = "k" * 48


def test_round_trip():
    signer = SessionSigner(KEY)
    data = SessionData(token="abc.def.ghi", flash="Saved.")
    loaded = signer.loads(signer.dumps(data))
    assert loaded == data


def test_every_session_has_its_own_csrf_token():
    assert SessionData().csrf != SessionData().csrf


def test_altered_or_foreign_cookies_are_refused():
    signer = SessionSigner(KEY)
    cookie = signer.dumps(SessionData(token="t"))
    payload, mac = cookie.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"c": "mine", "t": "other"}).encode())
    assert signer.loads(forged.decode().rstrip("=") + "." + mac) is None
    altered = mac[:-2] + ("BB" if mac.endswith("AA") else "AA")  # always another MAC
    assert signer.loads(payload + "." + altered) is None
    assert SessionSigner("another key " * 4).loads(cookie) is None
    for junk in (None, "", "no-dot", "a.b.c", "é.é", "x" * 10 + "." + "y" * 43):
        assert signer.loads(junk) is None


def test_a_signed_payload_of_the_wrong_shape_is_refused():
    signer = SessionSigner(KEY)
    payload = base64.urlsafe_b64encode(b"[1, 2]").decode().rstrip("=")
    assert signer.loads(f"{payload}.{signer._mac(payload)}") is None
