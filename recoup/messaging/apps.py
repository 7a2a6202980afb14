from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "recoup.messaging"
    label = "messaging"
    verbose_name = "SMS and letters"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from recoup.cases.history import register_action_labels
        from recoup.contact.panels import register_workspace_panel
        from recoup.messaging.panels import case_panel

        register_workspace_panel(case_panel)
        register_action_labels(
            {
                "messaging.sms.sent": _("已发送短信"),
                "messaging.sms.queued": _("短信排队待发"),
                "messaging.sms.refused": _("短信被合规拦截"),
                "messaging.sms.status_reported": _("短信送达回执"),
                "messaging.letter.rendered": _("生成信函"),
                "messaging.letter.sent": _("已发出信函"),
                "messaging.letter.downloaded": _("下载信函留存件"),
            }
        )
