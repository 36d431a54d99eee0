from caly.foundation import context


def request_id(request):
    """The current request id, for error pages and support messages. No database access."""
    return {"request_id": context.current_request_id()}
