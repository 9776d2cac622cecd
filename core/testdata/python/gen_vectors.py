#!/usr/bin/env python3
"""Generate wire-compatibility test vectors for asymjwt.

The output mimics, byte for byte, the tokens that the Python library
``asymmetric_jwt_auth`` (crgwbr/asymmetric-jwt-auth, src/asymmetric_jwt_auth)
produces with ``Token(username, timestamp).sign(private_key)``. PyJWT is not
needed (nor imported): its ``jwt.encode`` steps are written out below, so the
script runs with nothing but ``cryptography`` installed.

What asymmetric_jwt_auth does (tokens.py, keys.py, utils.py, nonce/base.py)
------------------------------------------------------------------------
* algorithm = public_key.allowed_algorithms[0]: RSA -> "RS512",
  Ed25519 -> "EdDSA".
* nonce     = secrets.token_urlsafe(nbytes=8)  (11 chars, URL-safe base64,
  no padding).
* kid       = fingerprint = sha256(public_key.public_bytes(PEM,
  SubjectPublicKeyInfo)).hexdigest().
* payload   = {"username": u, "time": int_ts, "nonce": nonce}, in that
  insertion order.
* token     = jwt.encode(payload, key=<PKCS#8 PEM bytes>, algorithm=alg,
  headers={"kid": kid}).
* RSAPublicKey.as_jwk = {"kty": "RSA", "use": "sig", "alg": "RS512",
  "kid": fingerprint, "n": long_to_base64(n), "e": long_to_base64(e)}, where
  long_to_base64 is the minimal big-endian bytes, URL-safe base64, with no
  padding. Ed25519PublicKey does not implement as_jwk, so Ed25519 vectors have
  no "jwk".

What PyJWT's jwt.encode does (mirrored below)
---------------------------------------------
Checked against jpadilla/pyjwt sources: jwt/api_jws.py (PyJWS.encode),
jwt/api_jwt.py (PyJWT.encode / _encode_payload), jwt/algorithms/__init__.py,
rsa.py and okp.py, jwt/utils.py (base64url_encode) and CHANGELOG.rst (which
goes up to 2.11.0). I also read later copies of api_jwt.py/api_jws.py that
did not name their repository: in them PyJWT owns a PyJWS, and the header
is built by an AlgorithmRegistry / _build_header refactor. Every version I
read from 2.7.0 on (2.7.0 added ``sort_headers=True``) follows these steps:

1. payload JSON = json.dumps(payload, separators=(",", ":")): keys are NOT
   sorted, and ensure_ascii=True (the default) writes non-ASCII as \\uXXXX,
   with lowercase hex and surrogate pairs above the BMP. DEL (0x7f) becomes
   \\u007f. "/", "<", ">" and "&" are not escaped.
2. header = {"typ": "JWT", "alg": alg}; header.update(headers).
   header JSON = json.dumps(header, separators=(",", ":"), sort_keys=True),
   which gives {"alg":...,"kid":...,"typ":"JWT"}.
3. segments = base64url(header JSON) "." base64url(payload JSON), using
   URL-safe base64 with every "=" removed.
4. RS512 = RSASSA-PKCS1-v1_5 with SHA-512 (key.sign(msg, PKCS1v15(),
   SHA512())). EdDSA = Ed25519 key.sign(msg). Both are deterministic, so
   the tokens can be reproduced exactly.
5. token = signing_input "." base64url(signature).

asymmetric-jwt-auth's current pyproject.toml needs PyJWT >=2.14.0,<3. I could
not read 2.12-2.14 directly; this script assumes they kept the encoding above.

Determinism
-----------
The keys are generated once and saved next to this script (rsa2048.pem,
rsa2048.pub.pem, ed25519.pem, ed25519.pub.pem); later runs reuse them.
Timestamps and nonces are fixed. The token_urlsafe nonce comes from the real
secrets.token_urlsafe(nbytes=8), with secrets.token_bytes patched to return
fixed bytes. Running the script again, with the same keys, gives the same
vectors.json and fingerprints.json byte for byte.

Outputs (all in this directory)
-------------------------------
* vectors.json: array of {name, key_private, key_public, fingerprint, alg,
  username, time, nonce, [nonce_source_bytes_hex], header_json,
  payload_json, token, [jwk]}.
* fingerprints.json: per key pair, the PEM file names, the sha256
  fingerprint of the public PEM file bytes, and the OpenSSH public key line.
  asymmetric_jwt_auth fingerprints OpenSSH-loaded keys by re-encoding them as
  SPKI PEM, so all forms share one fingerprint.

Usage: python3 gen_vectors.py   (no arguments; exits non-zero if a
self-check fails)
"""

import base64
import hashlib
import json
import os
import secrets
import sys
from unittest import mock

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))

RSA_PRIV = "rsa2048.pem"
RSA_PUB = "rsa2048.pub.pem"
ED_PRIV = "ed25519.pem"
ED_PUB = "ed25519.pub.pem"

# Fixed 8 bytes passed to secrets.token_urlsafe(nbytes=8) via a patched
# token_bytes. The bytes are chosen so that the nonce contains both "-" and
# "_", the URL-safe base64 characters.
URLSAFE_NONCE_BYTES = bytes.fromhex("fbefbe0f7ffdd301")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def path(name):
    return os.path.join(HERE, name)


def read_bytes(name):
    with open(path(name), "rb") as fh:
        return fh.read()


def write_bytes_if_changed(name, data):
    """Write data to name, but only if the content differs (keeps mtimes stable)."""
    p = path(name)
    if os.path.exists(p):
        with open(p, "rb") as fh:
            if fh.read() == data:
                return False
    with open(p, "wb") as fh:
        fh.write(data)
    return True


def b64url(data: bytes) -> str:
    """PyJWT jwt.utils.base64url_encode: urlsafe_b64encode(..).replace(b'=', b'')."""
    return base64.urlsafe_b64encode(data).replace(b"=", b"").decode("ascii")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def long_to_base64(n: int) -> str:
    """asymmetric_jwt_auth.utils.long_to_base64 with mlen=0: the minimal
    big-endian bytes (b'\\x00' for 0), URL-safe base64 with no padding."""
    data = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"\x00"
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def spki_pem(public_key) -> bytes:
    """asymmetric_jwt_auth PublicKey.as_pem."""
    return public_key.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def pkcs8_pem(private_key) -> bytes:
    """asymmetric_jwt_auth PrivateKey.as_pem."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def fingerprint(pem: bytes) -> str:
    """asymmetric_jwt_auth PublicKey.fingerprint."""
    return hashlib.sha256(pem).hexdigest()


def token_urlsafe_from(fixed: bytes, nbytes: int = 8) -> str:
    """Run the real secrets.token_urlsafe(nbytes=...) with token_bytes made
    to return fixed bytes. Same code path as nonce/base.py generate_nonce."""
    assert len(fixed) == nbytes
    with mock.patch("secrets.token_bytes", return_value=fixed) as tb:
        nonce = secrets.token_urlsafe(nbytes=nbytes)
        tb.assert_called_once_with(nbytes)
    return nonce


# --------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------

def load_or_create_keys():
    """Return {"rsa": private_key, "ed25519": private_key}. Generate and save
    any missing private key. If a public PEM file is missing, write it from
    the private key."""
    specs = [
        ("rsa", RSA_PRIV, RSA_PUB,
         lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ed25519", ED_PRIV, ED_PUB, ed25519.Ed25519PrivateKey.generate),
    ]
    keys = {}
    for kind, priv_name, pub_name, gen in specs:
        if os.path.exists(path(priv_name)):
            priv = serialization.load_pem_private_key(read_bytes(priv_name), password=None)
        else:
            if os.path.exists(path(pub_name)):
                sys.exit(f"{pub_name} exists but {priv_name} does not; refusing to guess")
            priv = gen()
            write_bytes_if_changed(priv_name, pkcs8_pem(priv))
            print(f"generated {priv_name}")
        if not os.path.exists(path(pub_name)):
            write_bytes_if_changed(pub_name, spki_pem(priv.public_key()))
            print(f"wrote {pub_name}")
        keys[kind] = priv
    return keys


def check_key_files(kind, priv_name, pub_name, priv):
    """Fingerprint checks: PEM files must be exactly what cryptography
    serialises, so sha256(file bytes) == the fingerprint Python computes."""
    priv_file = read_bytes(priv_name)
    pub_file = read_bytes(pub_name)

    # The private file is PKCS#8 PEM, exactly as PrivateKey.as_pem writes it.
    assert priv_file == pkcs8_pem(priv), f"{priv_name} is not canonical PKCS#8 PEM"
    assert priv_file.startswith(b"-----BEGIN PRIVATE KEY-----\n"), priv_name

    # The public file equals public_bytes(PEM, SubjectPublicKeyInfo), whether
    # computed from the private key (Token.sign: private_key.public_key) or
    # from loading the public file (PublicKey.load_pem).
    from_priv = spki_pem(priv.public_key())
    from_pub = spki_pem(serialization.load_pem_public_key(pub_file))
    assert pub_file == from_priv, f"{pub_name} != public_bytes() of {priv_name}"
    assert pub_file == from_pub, f"{pub_name} does not round-trip through cryptography"
    assert pub_file.startswith(b"-----BEGIN PUBLIC KEY-----\n"), pub_name
    assert pub_file.endswith(b"-----END PUBLIC KEY-----\n"), pub_name

    fp = fingerprint(pub_file)
    assert fp == fingerprint(from_priv) == fingerprint(from_pub)
    assert len(fp) == 64 and fp == fp.lower()

    # OpenSSH form: PublicKey.load_openssh re-encodes to SPKI PEM, so it has
    # the same fingerprint.
    openssh = priv.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert fingerprint(spki_pem(serialization.load_ssh_public_key(openssh))) == fp

    return {
        "kind": kind,
        "key_private": priv_name,
        "key_public": pub_name,
        "fingerprint": fp,
        "openssh_public": openssh.decode("ascii"),
    }


# --------------------------------------------------------------------------
# PyJWT encode, written out
# --------------------------------------------------------------------------

def alg_for(private_key) -> str:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS512"  # RSAPublicKey.allowed_algorithms[0]
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"  # Ed25519PublicKey.allowed_algorithms[0]
    raise TypeError(private_key)


def sign_bytes(private_key, alg: str, msg: bytes) -> bytes:
    if alg == "RS512":
        return private_key.sign(msg, padding.PKCS1v15(), hashes.SHA512())
    if alg == "EdDSA":
        return private_key.sign(msg)
    raise ValueError(alg)


def verify_bytes(public_key, alg: str, msg: bytes, sig: bytes) -> None:
    if alg == "RS512":
        public_key.verify(sig, msg, padding.PKCS1v15(), hashes.SHA512())
    elif alg == "EdDSA":
        public_key.verify(sig, msg)
    else:
        raise ValueError(alg)


def pyjwt_encode(payload: dict, private_key, algorithm: str, headers: dict):
    """PyJWT 2.x jwt.encode(payload, key, algorithm, headers) with default
    json_encoder=None and sort_headers=True. Returns (token, header_json,
    payload_json)."""
    payload_json = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    header = {"typ": "JWT", "alg": algorithm}
    header.update(headers)
    header_json = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    signing_input = (b64url(header_json) + "." + b64url(payload_json)).encode("ascii")
    signature = sign_bytes(private_key, algorithm, signing_input)
    token = signing_input.decode("ascii") + "." + b64url(signature)
    return token, header_json.decode("ascii"), payload_json.decode("ascii")


def token_sign(private_key, username: str, timestamp: int, nonce: str):
    """asymmetric_jwt_auth Token(username, timestamp).sign(private_key), with
    the nonce injected instead of drawn at random."""
    alg = alg_for(private_key)
    kid = fingerprint(spki_pem(private_key.public_key()))
    token_data = {"username": username, "time": timestamp, "nonce": nonce}
    token, header_json, payload_json = pyjwt_encode(
        token_data, private_key, alg, {"kid": kid}
    )
    return alg, kid, token, header_json, payload_json


def rsa_as_jwk(public_key) -> dict:
    """asymmetric_jwt_auth RSAPublicKey.as_jwk (key order as in the source)."""
    nums = public_key.public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS512",
        "kid": fingerprint(spki_pem(public_key)),
        "n": long_to_base64(nums.n),
        "e": long_to_base64(nums.e),
    }


# --------------------------------------------------------------------------
# self-check of a finished vector (independent of how it was built)
# --------------------------------------------------------------------------

def self_check(v: dict) -> None:
    name = v["name"]
    token = v["token"]
    assert token.isascii() and "=" not in token and token.count(".") == 2, name
    h_b64, p_b64, s_b64 = token.split(".")
    for seg in (h_b64, p_b64, s_b64):
        assert set(seg) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        ), name

    header_json = b64url_decode(h_b64)
    payload_json = b64url_decode(p_b64)
    sig = b64url_decode(s_b64)
    assert b64url(header_json) == h_b64 and b64url(payload_json) == p_b64, name
    assert header_json.decode("ascii") == v["header_json"], name
    assert payload_json.decode("ascii") == v["payload_json"], name

    # The exact header bytes, spelled out literally.
    expected_header = (
        '{"alg":"%s","kid":"%s","typ":"JWT"}' % (v["alg"], v["fingerprint"])
    ).encode("ascii")
    assert header_json == expected_header, (name, header_json)

    # The payload decodes to the recorded claims, in the recorded key order,
    # and the bytes are ASCII-only (ensure_ascii).
    payload = json.loads(payload_json)
    assert list(payload) == ["username", "time", "nonce"], name
    assert payload == {"username": v["username"], "time": v["time"], "nonce": v["nonce"]}, name
    assert type(payload["time"]) is int, name
    assert payload_json.isascii(), name

    # Nonce shape: what secrets.token_urlsafe(nbytes=8) returns.
    # It must be the canonical encoding of 8 bytes, something token_urlsafe
    # can actually produce (the last character carries 2 zero bits).
    assert len(v["nonce"]) == 11 and len(b64url_decode(v["nonce"])) == 8, name
    assert b64url(b64url_decode(v["nonce"])) == v["nonce"], (name, "non-canonical nonce")
    if "nonce_source_bytes_hex" in v:
        assert b64url_decode(v["nonce"]).hex() == v["nonce_source_bytes_hex"], name

    # Key material and fingerprint come from the files on disk.
    pub_pem = read_bytes(v["key_public"])
    assert fingerprint(pub_pem) == v["fingerprint"], name
    pub = serialization.load_pem_public_key(pub_pem)

    # Signature verifies with cryptography against the public PEM file ...
    signing_input = (h_b64 + "." + p_b64).encode("ascii")
    verify_bytes(pub, v["alg"], signing_input, sig)
    # ... and fails for a modified signing input.
    try:
        verify_bytes(pub, v["alg"], signing_input + b"x", sig)
    except Exception:
        pass
    else:
        raise AssertionError(f"{name}: tampered input verified")

    if v["alg"] == "RS512":
        assert isinstance(pub, rsa.RSAPublicKey) and len(sig) == pub.key_size // 8
        jwk = v["jwk"]
        assert list(jwk) == ["kty", "use", "alg", "kid", "n", "e"], name
        nums = pub.public_numbers()
        assert int.from_bytes(b64url_decode(jwk["n"]), "big") == nums.n, name
        assert int.from_bytes(b64url_decode(jwk["e"]), "big") == nums.e, name
        assert not b64url_decode(jwk["n"]).startswith(b"\x00"), name  # minimal
        assert jwk["e"] == "AQAB" and jwk["kid"] == v["fingerprint"], name
    else:
        assert isinstance(pub, ed25519.Ed25519PublicKey) and len(sig) == 64, name
        assert "jwk" not in v, name

    # Signing is deterministic, so the private key gives the same token again.
    priv = serialization.load_pem_private_key(read_bytes(v["key_private"]), password=None)
    again = token_sign(priv, v["username"], v["time"], v["nonce"])[2]
    assert again == token, f"{name}: signing is not deterministic"


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def main() -> int:
    keys = load_or_create_keys()
    key_info = [
        check_key_files("rsa", RSA_PRIV, RSA_PUB, keys["rsa"]),
        check_key_files("ed25519", ED_PRIV, ED_PUB, keys["ed25519"]),
    ]

    urlsafe_nonce = token_urlsafe_from(URLSAFE_NONCE_BYTES, 8)
    # The nonce must look like what the library generates.
    assert urlsafe_nonce == base64.urlsafe_b64encode(URLSAFE_NONCE_BYTES).rstrip(b"=").decode()
    assert "-" in urlsafe_nonce and "_" in urlsafe_nonce, urlsafe_nonce

    rsa_files = (RSA_PRIV, RSA_PUB, keys["rsa"])
    ed_files = (ED_PRIV, ED_PUB, keys["ed25519"])

    # (name, key files, username, time, nonce, extra fields)
    cases = [
        ("rsa_rs512_basic", rsa_files, "alice", 1700000000, "n0nce-FIXE0", {}),
        ("ed25519_eddsa_basic", ed_files, "alice", 1700000000, "n0nce-FIXE0", {}),
        # Non-ASCII: Latin-1 (é, ü), CJK (BMP), and an emoji (outside the BMP,
        # so json.dumps writes a surrogate pair, \ud83d\ude00).
        ("rsa_rs512_non_ascii_username", rsa_files,
         "Jos\u00e9 M\u00fcller \u65e5\u672c\u8a9e \U0001F600", 1700000001, "AbCdEfGhIjk", {}),
        ("ed25519_eddsa_non_ascii_username", ed_files,
         "Jos\u00e9 M\u00fcller \u65e5\u672c\u8a9e \U0001F600", 1700000001, "AbCdEfGhIjk", {}),
        # The nonce comes from the real secrets.token_urlsafe(nbytes=8).
        ("rsa_rs512_token_urlsafe_nonce", rsa_files, "bob", 1700000456, urlsafe_nonce,
         {"nonce_source_bytes_hex": URLSAFE_NONCE_BYTES.hex()}),
        # ASCII that JSON encoders disagree on: Python escapes only '"' and
        # '\\' and leaves '/', '<', '>', '&', "'" alone. (Go's encoding/json
        # HTML-escapes <, > and & by default.)
        ("rsa_rs512_json_escaping_username", rsa_files,
         "o'neil\"<admin>&co/\\x", 1700000789, "zzzzzzzzzzw", {}),
        # Control characters: \t and \n get short escapes; \x01 and DEL (0x7f)
        # become \u0001 and \u007f under ensure_ascii.
        ("ed25519_eddsa_control_chars_username", ed_files,
         "tab\there\nnl\x01\x7f", 1700000999, "_-_-_-_-_-A", {}),
    ]

    vectors = []
    for name, (priv_name, pub_name, priv), username, ts, nonce, extra in cases:
        alg, kid, token, header_json, payload_json = token_sign(priv, username, ts, nonce)
        v = {
            "name": name,
            "key_private": priv_name,
            "key_public": pub_name,
            "fingerprint": kid,
            "alg": alg,
            "username": username,
            "time": ts,
            "nonce": nonce,
        }
        v.update(extra)
        v["header_json"] = header_json
        v["payload_json"] = payload_json
        v["token"] = token
        if alg == "RS512":
            v["jwk"] = rsa_as_jwk(priv.public_key())
        vectors.append(v)

    # Spot-check the ensure_ascii escaping in the payload JSON.
    by_name = {v["name"]: v for v in vectors}
    p = by_name["rsa_rs512_non_ascii_username"]["payload_json"]
    assert "Jos\\u00e9 M\\u00fcller \\u65e5\\u672c\\u8a9e \\ud83d\\ude00" in p, p
    p = by_name["rsa_rs512_json_escaping_username"]["payload_json"]
    assert '"username":"o\'neil\\"<admin>&co/\\\\x"' in p, p
    p = by_name["ed25519_eddsa_control_chars_username"]["payload_json"]
    assert '"username":"tab\\there\\nnl\\u0001\\u007f"' in p, p
    assert by_name["rsa_rs512_basic"]["payload_json"] == (
        '{"username":"alice","time":1700000000,"nonce":"n0nce-FIXE0"}'
    )

    for v in vectors:
        self_check(v)
    names = [v["name"] for v in vectors]
    assert len(set(names)) == len(names)

    out = json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"
    changed = write_bytes_if_changed("vectors.json", out.encode("utf-8"))
    fp_out = json.dumps(key_info, indent=2) + "\n"
    fp_changed = write_bytes_if_changed("fingerprints.json", fp_out.encode("utf-8"))

    # Read back what was written and check it once more.
    for v in json.loads(read_bytes("vectors.json").decode("utf-8")):
        self_check(v)

    print(
        f"{len(vectors)} vectors OK; vectors.json {'updated' if changed else 'unchanged'}, "
        f"fingerprints.json {'updated' if fp_changed else 'unchanged'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
