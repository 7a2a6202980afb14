"""The demo's synthetic bank file goes through the real intake (cross-app: demo → intake)."""

import pytest

from recoup.intake.tests.test_import import run, upload

pytestmark = pytest.mark.django_db


def test_the_demo_sample_file_imports_with_its_planted_problems(world, tmp_path):
    from recoup.demo.sample_files import write_sample_bank_file

    path = write_sample_bank_file(tmp_path / "sample.csv", rows=100)
    with path.open("rb") as fh:
        job = upload(world, fh, name="sample.csv")
    assert job.encoding == "gb18030"
    job = run(world, job)
    assert job.status == "succeeded", job.error_message
    assert job.rows_read == 100
    assert job.rows_invalid == 4  # two bad check digits, two negative principals
    assert job.rows_duplicate == 1
    assert job.rows_loaded == 95
