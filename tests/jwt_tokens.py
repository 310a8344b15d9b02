"""Signing test JWTs (HS*, RS*, ES*, EdDSA) and publishing their keys as a JWKS.

Uses python3-cryptography (Debian's package) for the keys and signatures;
the JOSE framing (base64url, JSON, r||s for ECDSA) is done here, so tests can
also build every malformed variant on purpose.
"""
import base64
import hashlib
import hmac
import json
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


class Key:
    """A signing key and its public JWK."""

    def __init__(self, kind, kid, curve=None):
        self.kid = kid
        self.kind = kind
        if kind == "RSA":
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pub = self.priv.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "kid": kid, "use": "sig", "n": b64u_int(pub.n),
                        "e": b64u_int(pub.e)}
        elif kind == "EC":
            self.curve = curve or "P-256"
            c = ec.SECP256R1() if self.curve == "P-256" else ec.SECP384R1()
            self.priv = ec.generate_private_key(c)
            pub = self.priv.public_key().public_numbers()
            size = 32 if self.curve == "P-256" else 48
            self.jwk = {"kty": "EC", "kid": kid, "crv": self.curve,
                        "x": b64u(pub.x.to_bytes(size, "big")),
                        "y": b64u(pub.y.to_bytes(size, "big"))}
        elif kind == "OKP":
            self.priv = ed25519.Ed25519PrivateKey.generate()
            raw = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64u(raw)}

    def public_pem(self):
        return self.priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, alg, data):
        if alg.startswith("RS"):
            return self.priv.sign(data, padding.PKCS1v15(), HASHES[alg[2:]]())
        if alg.startswith("ES"):
            der = self.priv.sign(data, ec.ECDSA(HASHES[alg[2:]]()))
            r, s = decode_dss_signature(der)
            size = 32 if alg == "ES256" else 48
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if alg == "EdDSA":
            return self.priv.sign(data)
        raise ValueError(alg)


def hs_sign(alg, secret, data):
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, data, getattr(hashlib, "sha" + alg[2:])).digest()


def token(claims, alg="RS256", key=None, secret=None, kid=None, header=None):
    """A compact JWS. kid defaults to key.kid; header overrides/extends the JOSE header."""
    h = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        h["kid"] = kid
    elif key is not None:
        h["kid"] = key.kid
    h.update(header or {})
    signing = (b64u(json.dumps(h)) + "." + b64u(json.dumps(claims))).encode()
    if alg == "none":
        sig = b""
    elif alg.startswith("HS"):
        sig = hs_sign(alg, secret, signing)
    else:
        sig = key.sign(alg, signing)
    return signing.decode() + "." + b64u(sig)


def claims(sub, role="lakeapi_user", ttl=600, **extra):
    now = int(time.time())
    c = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    c.update(extra)
    return c
