"""Twilio's OpenAPI description made acceptable to Prism: form-urlencoded array properties get
``style: form, explode: true``, so that Prism accepts Twilio's repeated keys (StatusCallbackEvent).
The same patch as ../shared/twilio/patch_spec.py, kept here so that a fresh clone can make it."""

from __future__ import annotations

import json
import sys


def patch(spec: dict) -> int:
    n = 0
    for item in spec["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or "requestBody" not in op:
                continue
            for content_type, media in op["requestBody"].get("content", {}).items():
                if content_type != "application/x-www-form-urlencoded":
                    continue
                encoding = media.setdefault("encoding", {})
                for name, schema in media.get("schema", {}).get("properties", {}).items():
                    if schema.get("type") == "array":
                        encoding[name] = {"style": "form", "explode": True}
                        n += 1
    return n


if __name__ == "__main__":
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        spec = json.load(f)
    count = patch(spec)
    with open(target, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    print(f"patched array properties: {count}")
