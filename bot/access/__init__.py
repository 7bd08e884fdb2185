"""Who may use the console: users with a role and an argon2 password hash, logins with lockout, and
server-side sessions with idle expiry (DESIGN §10).

``passwords`` hashes and checks passwords and holds the lockout rule, ``users`` adds, lists, disables
and authenticates users, ``sessions`` starts, resumes and ends sessions. The clock is always passed
in. Nothing here logs or stores a password or a session token in clear.
"""
