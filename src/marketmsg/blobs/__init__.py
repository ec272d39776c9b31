"""The blob store: raw MIME and attachment files, content-addressed, behind Django's storage API
(the local file system by default, S3 in production; ADR 21)."""
