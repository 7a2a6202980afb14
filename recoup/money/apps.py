from django.apps import AppConfig


class MoneyConfig(AppConfig):
    name = "recoup.money"
    label = "money"
    verbose_name = "Money: payments, ledger, plans, reconciliation"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from recoup.cases.history import register_action_labels
        from recoup.cases.panels import register_case_panel
        from recoup.contact.panels import register_workspace_panel
        from recoup.intake.hooks import register_repayments_applied
        from recoup.money.panels import case_panel, workspace_panel
        from recoup.money.posting import post_job

        register_repayments_applied(post_job)
        register_case_panel(case_panel)
        register_workspace_panel(workspace_panel)
        register_action_labels(
            {
                "money.payment.recorded": _("录入还款"),
                "money.payment.matched": _("还款手工匹配"),
                "money.payment.reversed": _("还款冲正"),
                "money.case.paid_off": _("案件结清"),
                "money.case.reopened": _("案件因冲正重开"),
                "money.payment.rejected": _("还款驳回"),
                "money.payment.file_posted": _("还款文件入账"),
                "money.payment.evidence_viewed": _("查看还款凭证"),
                "money.plan.proposed": _("提出还款计划"),
                "money.plan.approved": _("主管批准还款计划"),
                "money.plan.rejected": _("主管驳回还款计划"),
                "money.plan.withdrawn": _("撤回还款计划"),
                "money.plan.consented": _("登记委托方同意"),
                "money.plan.signed": _("还款计划签署生效"),
                "money.plan.completed": _("还款计划履行完毕"),
                "money.plan.broken": _("还款计划违约"),
                "money.plan.reopened": _("还款计划因冲正恢复履行"),
                "money.plan.file_viewed": _("查看还款计划文件"),
                "money.reduction.requested": _("申请减免"),
                "money.reduction.approved": _("主管批准减免"),
                "money.reduction.client_approved": _("登记委托方审批减免"),
                "money.reduction.rejected": _("驳回减免"),
                "money.reduction.withdrawn": _("撤回减免"),
                "money.reduction.effective": _("减免生效"),
                "money.reduction.undone": _("减免因冲正撤销"),
                "money.reduction.lapsed": _("减免逾期失效"),
                "money.reduction.file_viewed": _("查看减免材料"),
            }
        )
