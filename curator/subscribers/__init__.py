"""Subscribers: addresses, double opt-in, preferences, unsubscribe, suppressions, audience, privacy.

Addresses are stored normalized and lowercased (see `normalize_email`); one subscriber
per address. Topics are stored as a JSON list in feeds.yaml order; the variant key of a
subscriber is that list joined by ",".
"""

from curator.subscribers._account import (
    REASONS,
    address_change,
    confirm_address_change,
    confirmation_resend_due,
    latest_issue,
    record_confirmation_resend,
    record_unsubscribe_reason,
    request_address_change,
    send_address_confirmation,
    send_welcome,
    undo_unsubscribe,
    welcome_due,
)
from curator.subscribers._addresses import ascii_address, clean_name, clean_topics, normalize_email, split_topics
from curator.subscribers._files import (
    CSV_TOPIC_SEP,
    ImportReport,
    Rejected,
    export_csv,
    import_csv,
    import_text,
    read_csv,
)
from curator.subscribers._growth import Week, growth
from curator.subscribers._lifecycle import (
    PERMANENT_REASONS,
    SUPPRESSION_RANK,
    TRANSITIONS,
    Mailer,
    add,
    audience,
    audience_select,
    confirm,
    confirmable,
    find,
    from_token,
    get,
    is_suppressed,
    list_subscribers,
    lookup,
    search,
    send_confirmation,
    status_counts,
    subscribe,
    suppress,
    suppression,
    unsubscribe,
    update_preferences,
)
from curator.subscribers._privacy import export_data, forget
from curator.subscribers._relink import (
    RESEND_AFTER,
    record_unsubscribe_link,
    send_unsubscribe_link,
    unsubscribe_link_due,
)

__all__ = [
    "REASONS", "address_change", "confirm_address_change", "confirmation_resend_due", "latest_issue",
    "record_confirmation_resend", "record_unsubscribe_reason", "request_address_change", "send_address_confirmation",
    "send_welcome", "undo_unsubscribe", "welcome_due", "Week", "growth", "import_text", "search", "status_counts",
    "CSV_TOPIC_SEP", "PERMANENT_REASONS", "RESEND_AFTER", "SUPPRESSION_RANK", "TRANSITIONS", "ImportReport", "Mailer",
    "Rejected", "add", "ascii_address", "audience", "audience_select", "clean_name", "clean_topics", "confirm",
    "confirmable", "export_csv", "export_data", "find", "forget", "from_token", "get", "import_csv", "is_suppressed",
    "list_subscribers", "lookup", "normalize_email", "read_csv", "record_unsubscribe_link", "send_confirmation",
    "send_unsubscribe_link", "split_topics", "subscribe", "suppress", "suppression", "unsubscribe",
    "unsubscribe_link_due", "update_preferences",
]
