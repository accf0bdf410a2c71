"""The delivery tests' fixtures (an approved issue, a SendGrid test server, settings that use it), shared here."""

from tests.deliver.conftest import issue, sg, sg_settings  # noqa: F401
