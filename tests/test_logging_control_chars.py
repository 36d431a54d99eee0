"""Logs cannot be forged: a newline or any other control character in a logged value is escaped.

What reaches the logs from outside (a browser error report, a request path, a user agent) goes
through the configured filters and formatter, read back as the operator would read the stream.
"""

import io
import json
import logging

import pytest

from caly.foundation.logging import JsonFormatter, RedactingFilter, RequestContextFilter, TextFormatter

FORGED = "12:00:00 ERROR   caly.security: staff user ops@caly.example signed in from 10.0.0.1"
BREAKS = {
    "LF": "\n",
    "CRLF": "\r\n",
    "CR": "\r",
    "LS": "\u2028",
    "PS": "\u2029",
    "NEL": "\x85",
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
}


@pytest.fixture(params=[TextFormatter, JsonFormatter], ids=["text", "json"])
def log_stream(request):
    """The root logger also writes to a string, as the configured stdout handler would."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(request.param())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    stream.json = request.param is JsonFormatter
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def lines_of(stream, logger_name: str) -> list[str]:
    """Every line the stream holds, and the ones whose record came from `logger_name`."""
    return [line for line in stream.getvalue().splitlines() if logger_name in line]


def report(client, **fields):
    payload = {"kind": "error", "message": "TypeError: x is undefined", **fields}
    return client.post("/api/v1/client-errors/", json.dumps(payload), content_type="application/json")


@pytest.mark.parametrize("line_break", BREAKS.values(), ids=BREAKS.keys())
def test_it_writes_a_browser_error_report_with_a_forged_line_as_exactly_one_line(client, log_stream, line_break):
    message = f"TypeError: x is undefined{line_break}{FORGED}"

    assert report(client, message=message).status_code == 202

    lines = log_stream.getvalue().splitlines()
    reported = [line for line in lines if "caly.client_errors" in line]
    assert len(reported) == 1, lines
    assert not any(line.startswith("12:00:00 ERROR") for line in lines), lines
    if log_stream.json:
        assert json.loads(reported[0])["message"] == f"Browser error: {message}"  # escaped, not lost


def test_it_escapes_every_field_of_a_report_and_the_user_agent(client, log_stream):
    fields = {
        "message": "boom\n" + FORGED,
        "page_url": "https://caly.example.com/calls/\r\n" + FORGED,
        "source": "https://caly.example.com/static/js/app.js\x1b[2K\r" + FORGED,
        "stack": "at f (app.js:10:4)\n" + FORGED + "\u2028" + FORGED,
    }
    response = client.post(
        "/api/v1/client-errors/",
        json.dumps({"kind": "error", **fields}),
        content_type="application/json",
        HTTP_USER_AGENT="Mozilla/5.0\x85" + FORGED,
    )

    assert response.status_code == 202
    text = log_stream.getvalue()
    [line] = lines_of(log_stream, "caly.client_errors")
    assert len(text.splitlines()) == len([x for x in text.split("\n") if x])  # no line break of another kind
    assert not any(c in line for c in "\x1b\x85\u2028\r")
    if log_stream.json:
        logged = json.loads(line)
        assert logged["page_url"] == fields["page_url"] and logged["stack"] == fields["stack"]
        assert logged["source"] == fields["source"] and logged["user_agent"] == "Mozilla/5.0\x85" + FORGED
    else:
        assert "boom\\n12:00:00 ERROR" in line
        assert "calls/\\r\\n12:00:00" in line
        assert "app.js\\x1b[2K\\r12:00:00" in line
        assert "Mozilla/5.0\\x85" + FORGED in line
        assert FORGED + "\\u2028" + FORGED in line


def test_it_escapes_a_request_path_on_the_access_line(client, log_stream, db):
    client.get("/health/live%0A12:00:00%20ERROR%20forged%0D%E2%80%A8")

    [line] = lines_of(log_stream, "caly.access")
    if log_stream.json:
        assert json.loads(line)["path"] == "/health/live\n12:00:00 ERROR forged\r\u2028"
    else:
        assert "/health/live\\n12:00:00 ERROR forged\\r\\u2028" in line


def test_it_indents_every_line_of_a_traceback_so_none_passes_for_a_record(log_stream):
    logger = logging.getLogger("caly.test_forging")
    try:
        raise ValueError(f"bad value\n{FORGED}\r{FORGED}")
    except ValueError:
        logger.exception("Handling %s failed", f"order\n{FORGED}")

    lines = log_stream.getvalue().splitlines()
    if log_stream.json:
        [line] = lines
        assert FORGED in json.loads(line)["exception"]
    else:
        head, *traceback = lines
        assert "caly.test_forging: Handling order\\n12:00:00" in head
        assert traceback and all(line.startswith("    ") for line in traceback), lines
        assert any("ValueError: bad value" in line for line in traceback)
        assert not any(line.startswith("12:00:00") for line in lines)


def test_it_keeps_printable_text_as_it_is(log_stream):
    logging.getLogger("caly.test_forging").warning('Order #42 für Zoë: ₹1,299 — "shipped" ✓ C:\\temp')

    [line] = log_stream.getvalue().splitlines()
    expected = 'Order #42 für Zoë: ₹1,299 — "shipped" ✓ C:\\temp'
    assert (json.loads(line)["message"] if log_stream.json else line.split(": ", 1)[1]) == expected
