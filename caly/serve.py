"""`python -m caly.serve [gunicorn options]`: check the environment, then run gunicorn in this process.

gunicorn reads WEB_CONCURRENCY with a bare int() while importing its own config module, before
gunicorn.conf.py runs, so a malformed value would end in a traceback instead of our one message.
Validating first, then handing the same process to gunicorn, keeps signals (TERM, HUP) going
straight to the gunicorn master.
"""

import os
import sys

from caly import env


def main() -> None:
    production = os.environ.get("DJANGO_SETTINGS_MODULE", "caly.settings.local").endswith(".production")
    env.exit_on_error(production=production)
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "caly.wsgi", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
