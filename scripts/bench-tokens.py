#!/usr/bin/env python3
"""Writes login tokens for `chat-bench storm --token-file`, one per line:
user i gets sub `bench-i`. Signed here (hmac, or the `cryptography` package
for ES256), not by the node's code.

    scripts/bench-tokens.py hs256 SECRET_FILE COUNT > tokens.txt
    scripts/bench-tokens.py es256 PRIVATE_KEY_PEM COUNT > tokens.txt
"""
import base64
import hashlib
import hmac
import json
import sys
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    algorithm, key_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    exp = int(time.time()) + 86400
    header = b64url(json.dumps({"alg": algorithm.upper(), "typ": "JWT"}).encode())
    if algorithm == "hs256":
        secret = open(key_path, "rb").read().rstrip(b"\r\n")
        sign = lambda data: hmac.new(secret, data, hashlib.sha256).digest()
    elif algorithm == "es256":
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)

        def sign(data):
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        sys.exit("algorithm must be hs256 or es256")
    out = sys.stdout
    for index in range(count):
        payload = b64url(json.dumps({"sub": f"bench-{index}", "exp": exp}).encode())
        signing_input = f"{header}.{payload}".encode()
        out.write(f"{header}.{payload}.{b64url(sign(signing_input))}\n")


if __name__ == "__main__":
    main()
