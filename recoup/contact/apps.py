from django.apps import AppConfig


class ContactConfig(AppConfig):
    name = "recoup.contact"
    label = "contact"

    def ready(self) -> None:
        from recoup.cases.history import register_action_labels, register_history_provider
        from recoup.contact.history import ACTION_LABELS, contact_history

        register_history_provider(contact_history)
        register_action_labels(ACTION_LABELS)
