"""What is kept and for how long: the daily purge, the blob migration and the erasure of a person
on request (APPI / GDPR), with a record of what each removed (ADR 22)."""
