"""Mail verification adapters: DNS (MX lookups and the address guard), the SMTP RCPT probe, and politeness.

Nothing here is wired into the resolver chain yet (docs/verification.md says what comes next).
"""
