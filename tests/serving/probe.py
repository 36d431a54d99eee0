"""Run requests through Django's test client in a fresh process and write what came back as JSON.

    python -m tests.serving.probe OUT.json < requests.json

requests.json is a list of {"path": "/" or "static": "css/caly.css", "secure": bool, "headers": {...}},
optionally with "method": "post" and form "data", and "body": true to get the body back as text.
The settings are whatever DJANGO_SETTINGS_MODULE says (the tests use caly.settings.production).
"""

import json
import sys

import django


def main() -> None:
    django.setup()
    from django.conf import settings
    from django.templatetags.static import static
    from django.test import Client

    host = settings.ALLOWED_HOSTS[0]
    client = Client(HTTP_HOST=host)
    results = []
    for spec in json.load(sys.stdin):
        path = static(spec["static"]) if "static" in spec else spec["path"]
        send = client.post if spec.get("method") == "post" else client.get
        response = send(path, spec.get("data"), secure=spec.get("secure", False), headers=spec.get("headers", {}))
        body = b"".join(response.streaming_content) if response.streaming else response.content
        results.append(
            {
                "path": path,
                "status": response.status_code,
                "headers": dict(response.items()),
                "set_cookie": [morsel.OutputString() for morsel in response.cookies.values()],
                "body_length": len(body),
                **({"body": body.decode("utf-8", errors="replace")} if spec.get("body") else {}),
            }
        )
    with open(sys.argv[1], "w") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main()
