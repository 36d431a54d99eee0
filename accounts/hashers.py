"""Argon2id with OWASP's parameters, sized for small web servers.

Django's defaults (100 MiB of memory, 2 passes, 8 lanes) cost 170 ms of CPU and 100 MiB per sign-in
on the benchmark machine (bench/README.md): four gunicorn threads signing in at once held 400 MiB and
left the other requests of the worker without a CPU. OWASP's Password Storage Cheat Sheet gives
19 MiB, 2 passes, 1 lane as its first recommended configuration for Argon2id: 20 ms and 19 MiB here.
Hashes made with other parameters still verify, and are rehashed with these at the next sign-in.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2PasswordHasher


class Argon2PasswordHasher(DjangoArgon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
