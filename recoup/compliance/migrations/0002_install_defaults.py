"""Install the default compliance profiles and lexicon for every existing organisation.

New organisations get them from ``recoup.compliance.services.install_defaults`` (a post_save
hook). This migration reads the same data file but copies the installing logic, as
migrations never import app code (docs/migrations.md).
"""

import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "defaults.json"


def install(apps, schema_editor):
    data = json.loads(DATA.read_text(encoding="utf-8"))
    Organisation = apps.get_model("accounts", "Organisation")
    Profile = apps.get_model("compliance", "ComplianceProfile")
    Version = apps.get_model("compliance", "ProfileVersion")
    Category = apps.get_model("compliance", "LexiconCategory")
    Term = apps.get_model("compliance", "LexiconTerm")
    for org in Organisation.objects.all():
        for spec in data["profiles"]:
            profile, created = Profile.objects.get_or_create(
                organisation=org,
                code=spec["code"],
                defaults={
                    "name": spec["name"],
                    "jurisdiction": spec["jurisdiction"],
                    "description": spec.get("description", ""),
                },
            )
            if created:
                Version.objects.create(
                    organisation=org, profile=profile, number=1, params=spec["params"],
                    note="default (COMPLIANCE.md)",
                )
        for spec in data["lexicon"]:
            category, created = Category.objects.get_or_create(
                organisation=org,
                code=spec["code"],
                defaults={
                    "name": spec["name"],
                    "tier": spec["tier"],
                    "grounding": spec.get("grounding", ""),
                    "third_party_only": spec.get("third_party_only", False),
                },
            )
            if created:
                for term in spec.get("terms", []):
                    Term.objects.create(organisation=org, category=category, term=term)
                for pattern in spec.get("patterns", []):
                    Term.objects.create(
                        organisation=org, category=category, term=pattern, is_pattern=True
                    )


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial"), ("accounts", "0004_role_choices_compliance_officer")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
