"""The compliance screens: who reads, who edits, versions and their diffs, the lexicon."""

from __future__ import annotations

import pytest

from recoup.accounts.models import Role, RoleAssignment, User
from recoup.audit.models import AuditEvent
from recoup.clients.models import Contract
from recoup.compliance.models import ComplianceProfile, LexiconCategory, LexiconTerm, ProfileVersion
from recoup.compliance.services import profile_save

pytestmark = pytest.mark.django_db


def _officer(world) -> User:  # type: ignore[no-untyped-def]
    """``cleo``: ada's colleague at acme given the compliance officer role (none in ``world``)."""
    user = world.people["hal"]
    cleo = User.objects.create_user(
        username="cleo",
        password="correct-horse-battery",
        organisation=world.org,
        unit=world.hq,
        display_name="Cleo",
        training_valid_until=user.training_valid_until,
        nda_valid_until=user.nda_valid_until,
    )
    RoleAssignment.objects.create(user=cleo, role=Role.objects.get(code="compliance_officer"))
    return User.objects.get(pk=cleo.pk)  # fresh: role_codes is cached on the instance


@pytest.fixture
def cleo(world) -> User:  # type: ignore[no-untyped-def]
    return _officer(world)


def _profile(world, code: str = "cn-default", org=None) -> ComplianceProfile:  # type: ignore[no-untyped-def]
    return ComplianceProfile.objects.get(organisation=org or world.org, code=code)


def _form_data(profile: ComplianceProfile, **changes: object) -> dict[str, object]:
    """The edit form as the browser would post it: the current values, then ``changes``."""
    params = profile.versions.order_by("-number").first().params  # type: ignore[union-attr]
    data: dict[str, object] = {}
    for name, value in params.items():
        if isinstance(value, bool):
            data[name] = "true" if value else "false"
        elif name == "time_zones":
            data[name] = ", ".join(value)
        elif isinstance(value, list):
            data[name] = [str(v) for v in value]
        else:
            data[name] = str(value)
    data.update(changes)
    return data


# --- who may read, who may edit -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/compliance/", "/compliance/lexicon/", "/compliance/contracts/{contract}/"],
)
def test_a_collector_may_not_open_the_compliance_screens(world, client, login, url):
    login(world.ada)
    page = client.get(url.format(contract=world.contract_a.pk))
    assert page.status_code == 403
    assert 'data-testid="forbidden"' in page.content.decode()


def test_a_collector_gets_403_on_a_profile_and_its_editor(world, client, login):
    profile = _profile(world)
    login(world.ada)
    assert client.get(f"/compliance/profiles/{profile.pk}/").status_code == 403
    assert client.get(f"/compliance/profiles/{profile.pk}/edit/").status_code == 403
    assert client.post("/compliance/lexicon/scan/", {"text": "x"}).status_code == 403


def test_the_index_lists_profiles_and_which_contracts_use_which_stack(world, client, login):
    world.contract_b.compliance_profile = "us-federal,us-ma,us-nowhere"
    world.contract_b.save(update_fields=["compliance_profile"])
    login(world.sam)  # a system administrator reads
    page = client.get("/compliance/")
    assert page.status_code == 200
    body = page.content.decode()
    for code in ("cn-default", "us-federal", "us-ma"):
        assert f'data-testid="profile-{code}"' in body
    assert "v1" in body
    assert "系统默认" in body
    assert 'data-testid="stack-A-1"' in body
    assert 'data-testid="stack-B-1"' in body
    assert "us-nowhere（不存在）" in body
    assert "/compliance/profiles/" in body
    assert "/edit/" not in body
    assert 'href="/compliance/"' in body  # the nav entry


def test_a_system_admin_reads_a_profile_but_may_not_edit_it(world, client, login):
    profile = _profile(world)
    login(world.sam)
    page = client.get(f"/compliance/profiles/{profile.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "可联系时段开始" in body
    assert "08:00" in body
    assert "电话、智能语音、短信、邮件、即时消息、外访" in body  # channels named
    assert 'data-testid="edit-profile"' not in body
    assert client.get(f"/compliance/profiles/{profile.pk}/edit/").status_code == 403
    response = client.post(
        f"/compliance/profiles/{profile.pk}/edit/",
        _form_data(profile, window_end="21:00", note="try"),
    )
    assert response.status_code == 403
    assert profile.versions.count() == 1


@pytest.mark.parametrize("persona", ["hal", "rick", "sue", "max", "quinn"])
def test_managers_risk_and_quality_read_the_compliance_screens(world, client, login, persona):
    login(world.people[persona])
    assert client.get("/compliance/").status_code == 200
    assert client.get("/compliance/lexicon/").status_code == 200


def test_a_rival_agencys_profile_contract_and_term_are_not_found(world, client, login, cleo):
    rival_profile = _profile(world, org=world.rival)
    rival_contract = Contract.objects.get(organisation=world.rival)
    rival_term = LexiconTerm.objects.filter(organisation=world.rival).first()
    assert rival_term is not None
    login(cleo)
    assert client.get(f"/compliance/profiles/{rival_profile.pk}/").status_code == 404
    assert client.get(f"/compliance/profiles/{rival_profile.pk}/edit/").status_code == 404
    response = client.post(
        f"/compliance/profiles/{rival_profile.pk}/edit/",
        _form_data(rival_profile, window_end="21:00", note="x"),
    )
    assert response.status_code == 404
    assert client.get(f"/compliance/contracts/{rival_contract.pk}/").status_code == 404
    assert client.get(f"/compliance/contracts/{rival_contract.pk}/override/").status_code == 404
    assert client.post(f"/compliance/lexicon/terms/{rival_term.pk}/remove/").status_code == 404
    assert (
        client.post(
            f"/compliance/lexicon/categories/{rival_term.category_id}/terms/", {"c-term": "x"}
        ).status_code
        == 404
    )
    assert rival_profile.versions.count() == 1
    assert LexiconTerm.objects.filter(pk=rival_term.pk).exists()


# --- editing a profile ----------------------------------------------------------------------


def test_the_compliance_officer_edits_a_profile_into_version_2(world, client, login, cleo):
    profile = _profile(world)
    login(cleo)
    form = client.get(f"/compliance/profiles/{profile.pk}/edit/")
    assert form.status_code == 200
    body = form.content.decode()
    assert 'value="08:00"' in body
    assert "修改原因" in body
    response = client.post(
        f"/compliance/profiles/{profile.pk}/edit/",
        _form_data(
            profile,
            window_end="21:00",
            max_conversations_per_debtor_per_day="2",
            blocked_weekdays=["6"],
            note="客户要求：21 点后不联系",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == f"/compliance/profiles/{profile.pk}/"
    version = profile.versions.get(number=2)
    assert version.note == "客户要求：21 点后不联系"
    assert version.created_by == cleo
    assert version.params["window_end"] == "21:00"
    assert version.params["max_conversations_per_debtor_per_day"] == 2
    assert version.params["blocked_weekdays"] == [6]
    assert version.params["window_start"] == "08:00"  # untouched values are carried over
    assert profile.versions.get(number=1).params["window_end"] == "22:00"  # history unchanged
    event = AuditEvent.objects.get(action="compliance.profile.versioned", actor=cleo)
    assert event.data["version"] == 2
    assert event.data["before"]["window_end"] == "22:00"
    assert event.data["after"]["window_end"] == "21:00"
    page = client.get(response["Location"]).content.decode()
    assert "已保存为第 2 版" in page
    assert "客户要求：21 点后不联系" in page
    assert "v2" in page
    assert "Cleo" in page


def test_the_history_shows_each_version_against_the_one_before(world, client, login, cleo):
    profile = _profile(world)
    profile_save(
        actor=cleo,
        organisation=world.org,
        code="cn-default",
        params={**profile.versions.get().params, "window_end": "21:00"},
        note="第二版",
    )
    params_v2 = profile.versions.get(number=2).params
    params_v3 = {k: v for k, v in params_v2.items() if k != "visit_min_collectors"}
    params_v3["window_channels"] = ["call", "robot"]
    profile_save(actor=cleo, organisation=world.org, code="cn-default", params=params_v3, note="三")
    login(world.sam)
    body = client.get(f"/compliance/profiles/{profile.pk}/").content.decode()
    v2 = body[body.index('data-testid="version-2"') : body.index('data-testid="version-1"')]
    assert "可联系时段结束：" in v2
    assert '22:00</span> → <span class="text-success-emphasis">21:00' in v2
    assert "第二版" in v2
    v3 = body[body.index('data-testid="version-3"') : body.index('data-testid="version-2"')]
    assert "外访最少人数：" in v3
    assert '2</span> → <span class="text-success-emphasis">—' in v3
    assert "电话、智能语音、短信、邮件、即时消息、外访</span> → " in v3
    assert "21:00" not in v3  # unchanged parameters are not listed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"window_start": "25:00"}, "可联系时段开始须为 HH:MM 格式的时间"),
        (
            {"max_conversations_per_debtor_per_day": "-1"},
            "每位债务人每日有效通话上限须为不小于 0 的整数",
        ),
        ({"window_channels": ["call", "fax"]}, "含未知渠道：fax"),
        ({"blocked_weekdays": ["7"]}, "须为 0（周一）到 6（周日）"),
        ({"time_zones": "Mars/Olympus"}, "含未知时区：Mars/Olympus"),
        ({"window_start": "22:00", "window_end": "08:00"}, "可联系时段开始须早于结束"),
        ({"note": "  "}, "这个字段是必填项"),
    ],
)
def test_a_bad_value_shows_its_error_and_stores_nothing(
    world, client, login, cleo, changes, message
):
    profile = _profile(world)
    login(cleo)
    data = _form_data(profile, note="修改")
    data.update(changes)
    response = client.post(f"/compliance/profiles/{profile.pk}/edit/", data)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body, body[:4000]
    assert 'data-testid="form-errors"' in body
    assert profile.versions.count() == 1
    assert not AuditEvent.objects.filter(action="compliance.profile.versioned").exists()


def test_saving_without_a_change_is_refused(world, client, login, cleo):
    profile = _profile(world)
    login(cleo)
    response = client.post(
        f"/compliance/profiles/{profile.pk}/edit/", _form_data(profile, note="没改")
    )
    assert response.status_code == 400
    assert "参数没有变化，未保存新版本。" in response.content.decode()
    assert profile.versions.count() == 1


def test_a_blank_field_means_the_profile_does_not_set_it(world, client, login, cleo):
    profile = _profile(world)
    login(cleo)
    data = _form_data(profile, note="不再限制外访人数")
    data["visit_min_collectors"] = ""
    response = client.post(f"/compliance/profiles/{profile.pk}/edit/", data)
    assert response.status_code == 302
    assert "visit_min_collectors" not in profile.versions.get(number=2).params


# --- effective rules of a contract ----------------------------------------------------------


def test_the_effective_preview_shows_the_most_restrictive_value_and_its_source(
    world, client, login, cleo
):
    contract = world.contract_b
    contract.compliance_profile = "us-federal, us-ma"
    contract.save(update_fields=["compliance_profile"])
    login(world.hal)
    body = client.get(f"/compliance/contracts/{contract.pk}/").content.decode()
    row = body[body.index('data-testid="rule-max_calls_per_debt_7d"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="fw-semibold" data-testid="value">2</td>' in row  # MA's 2 beats federal 7
    assert 'data-testid="source"><code>us-ma</code></td>' in row
    assert "table-success" in row
    row = body[body.index('data-testid="rule-window_end"') :]
    row = row[: row.index("</tr>")]
    assert "21:00" in row
    assert "<code>us-federal</code>" in row


def test_a_contract_override_tightens_and_wins(world, client, login, cleo):
    contract = world.contract_a  # cn-default
    login(cleo)
    page = client.get(f"/compliance/contracts/{contract.pk}/")
    assert 'data-testid="new-override"' in page.content.decode()
    form = client.get(f"/compliance/contracts/{contract.pk}/override/")
    assert form.status_code == 200
    response = client.post(
        f"/compliance/contracts/{contract.pk}/override/",
        {"window_start": "09:00", "window_end": "23:00", "note": "合同第 7 条：9 点以后"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    override = ComplianceProfile.objects.get(contract=contract)
    assert override.code == "contract-a-1"
    assert override.jurisdiction == "contract"
    assert override.versions.get().note == "合同第 7 条：9 点以后"
    assert AuditEvent.objects.filter(
        action="compliance.profile.versioned", object_id=str(override.pk)
    ).exists()
    body = client.get(response["Location"]).content.decode()
    start = body[body.index('data-testid="rule-window_start"') :]
    start = start[: start.index("</tr>")]
    assert "09:00" in start
    assert "<code>contract-a-1</code>" in start
    end = body[body.index('data-testid="rule-window_end"') :]
    end = end[: end.index("</tr>")]
    assert "22:00" in end
    assert "<code>cn-default</code>" in end
    # a second override for the same contract: the editor opens the existing one instead
    again = client.get(f"/compliance/contracts/{contract.pk}/override/")
    assert again["Location"] == f"/compliance/profiles/{override.pk}/edit/"


def test_a_missing_profile_in_the_stack_is_shown_as_refusing_everything(world, client, login):
    world.contract_a.compliance_profile = "cn-nowhere"
    world.contract_a.save(update_fields=["compliance_profile"])
    login(world.sue)
    body = client.get(f"/compliance/contracts/{world.contract_a.pk}/").content.decode()
    assert 'data-testid="missing"' in body
    assert "cn-nowhere" in body
    assert 'data-testid="new-override"' not in body  # sue reads, does not edit


def test_only_the_officer_creates_an_override(world, client, login):
    login(world.hal)
    url = f"/compliance/contracts/{world.contract_a.pk}/override/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"window_start": "09:00", "note": "x"}).status_code == 403
    assert not ComplianceProfile.objects.filter(contract=world.contract_a).exists()


# --- the lexicon ----------------------------------------------------------------------------


def test_the_lexicon_lists_categories_with_tier_and_terms(world, client, login):
    login(world.quinn)
    body = client.get("/compliance/lexicon/").content.decode()
    assert 'data-testid="category-violence"' in body
    assert "红线（零容忍）" in body
    assert "严重" in body
    third = body[body.index('data-testid="category-third_party_debt"') :]
    assert 'data-testid="third-party-only"' in third[:2000]
    assert 'data-testid="remove-' not in body
    assert 'data-testid="add-' not in body


def test_the_officer_adds_and_removes_a_term(world, client, login, cleo):
    category = LexiconCategory.objects.get(organisation=world.org, code="insult")
    login(cleo)
    response = client.post(
        f"/compliance/lexicon/categories/{category.pk}/terms/",
        {f"c{category.pk}-term": "没出息"},
    )
    assert response.status_code == 302
    term = LexiconTerm.objects.get(category=category, term="没出息")
    assert not term.is_pattern
    assert AuditEvent.objects.filter(action="compliance.lexicon_term.added", actor=cleo).exists()
    page = client.get("/compliance/lexicon/").content.decode()
    assert "已在「辱骂、侮辱」中加入：没出息" in page
    assert f'data-testid="remove-{term.pk}"' in page

    response = client.post(
        f"/compliance/lexicon/categories/{category.pk}/terms/",
        {f"c{category.pk}-term": r"废物\d+", f"c{category.pk}-is_pattern": "on"},
    )
    assert response.status_code == 302
    assert LexiconTerm.objects.get(category=category, term=r"废物\d+").is_pattern

    response = client.post(f"/compliance/lexicon/terms/{term.pk}/remove/")
    assert response.status_code == 302
    assert not LexiconTerm.objects.filter(pk=term.pk).exists()
    assert AuditEvent.objects.filter(action="compliance.lexicon_term.removed", actor=cleo).exists()
    assert "已从「辱骂、侮辱」中删除：没出息" in client.get("/compliance/lexicon/").content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"term": "("}, "正则表达式无效"),  # is_pattern added below
        ({"term": "废物"}, "该词语已在此类别中。"),
        ({"term": ""}, "这个字段是必填项"),
    ],
)
def test_a_bad_term_shows_its_error_and_adds_nothing(world, client, login, cleo, data, message):
    category = LexiconCategory.objects.get(organisation=world.org, code="insult")
    LexiconTerm.objects.get_or_create(organisation=world.org, category=category, term="废物")
    before = LexiconTerm.objects.count()
    post = {f"c{category.pk}-{k}": v for k, v in data.items()}
    if data["term"] == "(":
        post[f"c{category.pk}-is_pattern"] = "on"
    login(cleo)
    response = client.post(f"/compliance/lexicon/categories/{category.pk}/terms/", post)
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert 'data-testid="term-error"' in body
    assert LexiconTerm.objects.count() == before
    assert not AuditEvent.objects.filter(action="compliance.lexicon_term.added").exists()


def test_a_reader_may_not_change_the_lexicon(world, client, login):
    category = LexiconCategory.objects.get(organisation=world.org, code="insult")
    term = category.terms.first()
    assert term is not None
    login(world.hal)
    url = f"/compliance/lexicon/categories/{category.pk}/terms/"
    assert client.post(url, {f"c{category.pk}-term": "x"}).status_code == 403
    assert client.post(f"/compliance/lexicon/terms/{term.pk}/remove/").status_code == 403
    assert LexiconTerm.objects.filter(pk=term.pk).exists()
    assert not LexiconTerm.objects.filter(term="x").exists()


def test_try_it_scans_a_pasted_text_as_an_htmx_fragment(world, client, login):
    login(world.sue)
    response = client.post(
        "/compliance/lexicon/scan/",
        {"text": "再不还钱就找人 上 门 收拾你，你这个老赖！他欠了 5000 元"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="scan-result"')
    assert "<html" not in body
    assert body.count('data-testid="hit"') == 2
    assert "找人上门收拾你" in body
    assert "老赖" in body
    assert "向第三方透露" not in body  # third-party-only categories count only when asked
    third = client.post(
        "/compliance/lexicon/scan/",
        {"text": "他欠了 5000 元", "third_party": "on"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "向第三方透露欠款金额或逾期时间" in third
    clean = client.post(
        "/compliance/lexicon/scan/", {"text": "您好，请问方便通话吗？"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="no-hits"' in clean


def test_try_it_without_htmx_renders_the_whole_page(world, client, login, cleo):
    login(cleo)
    response = client.post(
        "/compliance/lexicon/scan/", {"text": "他欠了 5000 元", "third_party": "on"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert 'data-testid="hit"' in body
    empty = client.post("/compliance/lexicon/scan/", {"text": ""}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400
    assert "这个字段是必填项" in empty.content.decode()


def test_no_inline_script_or_style_in_the_compliance_pages(world, client, login, cleo):
    login(cleo)
    profile = _profile(world)
    for url in (
        "/compliance/",
        f"/compliance/profiles/{profile.pk}/",
        f"/compliance/profiles/{profile.pk}/edit/",
        f"/compliance/contracts/{world.contract_a.pk}/",
        f"/compliance/contracts/{world.contract_a.pk}/override/",
        "/compliance/lexicon/",
    ):
        body = client.get(url).content.decode()
        for inline in ("<script>", "<style", "style=", "onclick", "onsubmit"):
            assert inline not in body, (url, inline)


def test_no_version_row_is_ever_changed_by_the_screens(world, client, login, cleo):
    """Append-only: an edit adds a row; the rows before it stay as they were."""
    profile = _profile(world)
    v1 = ProfileVersion.objects.get(profile=profile)
    login(cleo)
    client.post(
        f"/compliance/profiles/{profile.pk}/edit/",
        _form_data(profile, window_end="21:30", note="x"),
    )
    v1_after = ProfileVersion.objects.get(pk=v1.pk)
    assert (v1_after.params, v1_after.note, v1_after.number) == (v1.params, v1.note, 1)
