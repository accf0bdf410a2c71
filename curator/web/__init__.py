"""The web app: public pages, the editors' desk, the ops console and the SendGrid webhook."""

from curator.web.app import create_app

__all__ = ["create_app"]
