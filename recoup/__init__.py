"""Recoup: operations platform for debt-collection agencies (催收作业管理平台)."""
