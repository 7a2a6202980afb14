from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "recoup.compliance"
    label = "compliance"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from recoup.accounts.models import Organisation
        from recoup.compliance.services import install_defaults_for_new_organisation

        # Every new agency starts with the default profiles and lexicon (data, editable).
        post_save.connect(
            install_defaults_for_new_organisation,
            sender=Organisation,
            dispatch_uid="compliance-defaults",
        )
