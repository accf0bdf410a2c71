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
    new_attempt,
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
from curator.subscribers._signup import PUBLIC_NAME_MAX, mail_failed, signup
from curator.subscribers._suppress_many import suppress_many

__all__ = [
    "CSV_TOPIC_SEP", "ImportReport", "Mailer", "PERMANENT_REASONS", "PUBLIC_NAME_MAX", "REASONS", "RESEND_AFTER",
    "Rejected", "SUPPRESSION_RANK", "TRANSITIONS", "Week", "add", "address_change", "ascii_address", "audience",
    "audience_select", "clean_name", "clean_topics", "confirm", "confirm_address_change", "confirmable",
    "confirmation_resend_due", "export_csv", "export_data", "find", "forget", "from_token", "get", "growth",
    "import_csv", "import_text", "is_suppressed", "latest_issue", "list_subscribers", "lookup", "mail_failed",
    "new_attempt", "normalize_email", "read_csv", "record_confirmation_resend", "record_unsubscribe_link",
    "record_unsubscribe_reason", "request_address_change", "search", "send_address_confirmation",
    "send_confirmation", "send_unsubscribe_link", "send_welcome", "signup", "split_topics", "status_counts",
    "subscribe", "suppress", "suppress_many", "suppression", "undo_unsubscribe", "unsubscribe",
    "unsubscribe_link_due", "update_preferences", "welcome_due",
]
