"""`python -m caly.serve [gunicorn options]`: check the environment, then run gunicorn in this process.

gunicorn reads WEB_CONCURRENCY with a bare int() while importing its own config module, before
gunicorn.conf.py runs, so a malformed value would end in a traceback instead of our one message.
Validating first, then handing the same process to gunicorn, keeps signals (TERM, HUP, USR2) going
straight to the gunicorn master.

On USR2 gunicorn starts a new master that inherits the listening socket (an upgrade in place, see
docs/operations.md) by running `python <argv[0]> <arguments>` again, so argv[0] must be a script
Python can run: gunicorn's own, from the same environment.
"""

import os
import sys
from pathlib import Path

from caly.foundation import env


def main() -> None:
    production = os.environ.get("DJANGO_SETTINGS_MODULE", "caly.settings.local").endswith(".production")
    env.exit_on_error(production=production)
    from gunicorn.app.wsgiapp import run

    script = Path(sys.executable).with_name("gunicorn")
    sys.argv = [str(script) if script.is_file() else "gunicorn", "caly.wsgi", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
