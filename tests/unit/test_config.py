"""Config loading: the example is the defaults, and every problem is named as file:key."""

from __future__ import annotations

import json
import tomllib
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli.config_checks import check_settings, load_settings, parse_settings
from bot.config import EXAMPLE_CONFIG, Settings
from bot.domain.ladder import default_ladders
from bot.errors import ConfigError


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "dunbot.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


def test_example_config_is_exactly_the_defaults() -> None:
    example = load_settings(EXAMPLE_CONFIG)
    defaults = Settings(base_dir=example.base_dir)
    assert example.model_dump() == defaults.model_dump()


def test_example_ladder_is_the_design_ladder() -> None:
    policy = load_settings(EXAMPLE_CONFIG).planning_policy()
    assert dict(policy.ladders) == dict(default_ladders())


def test_example_keeps_contract_defaults() -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.database.url == "sqlite:///dunbot.db"
    assert settings.schedule.cron == "0 9 * * 1-5"
    assert settings.compliance.window == "08:00-20:00"
    assert settings.compliance.max_messages_per_7d == 4
    assert settings.compliance.tolerance == Decimal("1.00")
    assert (settings.fees.grace_days, settings.fees.penalty_after_days) == (15, 30)
    assert (settings.fees.daily_rate, settings.fees.penalty_rate) == (Decimal("0.001"), Decimal("0.02"))
    assert settings.web.listen == "127.0.0.1:8080"


def test_demand_lead_days_sits_in_ladder_beside_the_steps(tmp_path: Path) -> None:
    assert load_settings(EXAMPLE_CONFIG).planning_policy().demand_lead_days == 7
    path = tmp_path / "dunbot.toml"
    path.write_text("[ladder]\ndemand_lead_days = 10\n", encoding="utf-8")
    settings = load_settings(path)
    # Setting only the lead time keeps the default steps.
    assert (settings.planning_policy().demand_lead_days, dict(settings.planning_policy().ladders)) == (
        10,
        dict(default_ladders()),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "greater than or equal to 0"),
        ("366", "less than or equal to 365"),
        ('"seven"', "valid integer"),
    ],
)
def test_demand_lead_days_is_checked(tmp_path: Path, value: str, message: str) -> None:
    [problem] = _problems(tmp_path, f"[ladder]\ndemand_lead_days = {value}\n")
    assert problem.startswith(f"{tmp_path / 'dunbot.toml'}:ladder.demand_lead_days: ")
    assert message in problem


def test_unknown_key_names_the_section(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[compliance]\nwindow = "08:00-20:00"\nmax_per_day = 3\n')
    assert problems == [f"{tmp_path / 'dunbot.toml'}:compliance.max_per_day: unknown key in [compliance]"]


def test_unknown_section(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "[mailer]\nhost = 'x'\n")
    assert problems == [f"{tmp_path / 'dunbot.toml'}:mailer: unknown section or key"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
[company]
timezone = "Mars/Olympus"
[compliance]
window = "08:00-08:00"
tolerance = 1.5
[fees]
daily_rate = "2"
[email]
transport = "pigeon"
""",
    )
    file = tmp_path / "dunbot.toml"
    joined = "\n".join(problems)
    assert len(problems) == 5, joined
    assert f"{file}:company.timezone: unknown IANA timezone 'Mars/Olympus'" in joined
    assert f"{file}:compliance.window: '08:00-08:00' is empty" in joined
    assert f'{file}:compliance.tolerance: write decimals as strings, e.g. "1.5"' in joined
    assert f"{file}:fees.daily_rate: a rate is a fraction between 0 and 1" in joined
    assert f"{file}:email.transport:" in joined


def test_ladder_step_with_unknown_channel(tmp_path: Path) -> None:
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    broken = example.replace(
        'name = "overdue_sms"\nday = 3\nchannels = ["sms"]',
        'name = "overdue_sms"\nday = 3\nchannels = ["fax"]',
    )
    assert broken != example
    problems = _problems(tmp_path, broken)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{tmp_path / 'dunbot.toml'}:ladder.procedural[2].channels[0]: Input should be"
    )


def test_ladder_step_with_unknown_template(tmp_path: Path) -> None:
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    broken = example.replace(
        'name = "overdue_sms"\nday = 3\nchannels = ["sms"]',
        'name = "overdue_sms"\nday = 3\nchannels = ["sms"]\ntemplate = "no_such_letter"',
    )
    problems = _problems(tmp_path, broken)
    assert problems, "an unknown template must be refused"
    assert all(
        p.startswith(f"{tmp_path / 'dunbot.toml'}:ladder.procedural[2].template: no template")
        for p in problems
    )
    assert any("no_such_letter" in p for p in problems)


def test_ladder_days_must_increase_and_names_be_unique(tmp_path: Path) -> None:
    document = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    steps = document["ladder"]["procedural"]
    steps[3]["day"] = 2  # collection_call before overdue_sms
    steps[4]["name"] = "overdue_sms"
    with pytest.raises(ConfigError) as caught:
        parse_settings(document, "cfg.toml", tmp_path)
    joined = "\n".join(caught.value.problems)
    assert "cfg.toml:ladder.procedural[3].day: days must increase along the ladder (2 after 3)" in joined
    assert "cfg.toml:ladder.procedural[4].name: step 'overdue_sms' appears twice (also at [2])" in joined


def test_a_schema_problem_does_not_hide_the_ladder_problems(tmp_path: Path) -> None:
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    broken = (
        example.replace("[compliance]\n", "[compliance]\nmax_per_day = 3\n", 1)
        .replace(
            'name = "overdue_sms"\nday = 3\nchannels = ["sms"]',
            'name = "overdue_sms"\nday = 3\nchannels = ["fax"]',
        )
        .replace('name = "collection_call"', 'name = "collection_call"\ntemplate = "no_such_letter"', 1)
    )
    assert broken.count("max_per_day") == 1 and "fax" in broken and "no_such_letter" in broken
    file = tmp_path / "dunbot.toml"
    problems = _problems(tmp_path, broken)
    joined = "\n".join(problems)
    assert f"{file}:compliance.max_per_day: unknown key in [compliance]" in joined
    assert f"{file}:ladder.procedural[2].channels[0]: Input should be" in joined
    # the rejected step [2] is left out of the ladder's own checks; [3] keeps its index in the file
    assert f"{file}:ladder.procedural[3].template: no template" in joined and "no_such_letter" in joined
    assert not any("procedural[2].name" in p or "procedural[2].day" in p for p in problems), joined


def test_a_ladder_that_is_no_tactic_is_named_once(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[[ladder.fancy]]\nname = "hello"\nday = 1\nchannels = ["sms"]\n')
    assert problems == [
        f"{tmp_path / 'dunbot.toml'}:ladder.fancy: Input should be 'consultative', 'procedural' or 'preservation'"
    ]


def test_check_config_goes_on_past_the_schema_and_says_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dunbot.toml"
    path.write_text(
        '[email]\ntransport = "smtp"\nusername = "bot"\npassword_env = "DUNBOT_TEST_SMTP_PW"\n'
        "[signing]\npkcs12 = 5\n"
        '[fees]\ndaily_rate = "2"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("DUNBOT_TEST_SMTP_PW", raising=False)
    problems = check_settings(path)
    keys = [p.removeprefix(f"{path}:").partition(":")[0] for p in problems]
    # the schema's two problems, and the secret the rest of the file needs
    assert sorted(keys) == ["email.password_env", "fees.daily_rate", "signing.pkcs12"], problems
    assert f"{path}:email.password_env: environment variable DUNBOT_TEST_SMTP_PW is not set" in problems
    # signing.pkcs12 is named once, for its type, not again as "the ladder needs a certificate"
    assert sum("signing.pkcs12" in p for p in problems) == 1


def test_a_rejected_ladder_is_not_replaced_by_the_default_for_the_later_checks(tmp_path: Path) -> None:
    path = tmp_path / "dunbot.toml"
    # no signed step and no letter anywhere in what the user wrote: no certificate is needed
    path.write_text("[ladder]\nconsultative = []\nprocedural = []\n", encoding="utf-8")
    problems = check_settings(path)
    assert problems == [
        f"{path}:(top level): [ladder] needs a ladder for every tactic; missing: preservation"
    ]


def test_hundreds_of_rejected_items_do_not_stop_the_later_checks(tmp_path: Path) -> None:
    path = tmp_path / "dunbot.toml"
    phrases = ", ".join(["1"] * 250)
    path.write_text(
        f'[compliance]\nbanned_phrases = [{phrases}]\n[sms]\ntransport = "twilio"\n', encoding="utf-8"
    )
    problems = check_settings(path)
    assert sum("compliance.banned_phrases[" in problem for problem in problems) == 250
    assert f"{path}:sms.auth_token_env: name the environment variable that holds the secret" in problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[scorecard]\nhistory_weight = "1e999999999"\n',
            "scorecard.history_weight: '1e999999999' is out of range",
        ),
        ("[web]\nport = " + "9" * 5000 + "\n", "dunbot.toml: "),
        (
            '[[ladder.consultative]]\nname = "a"\nday = 1\nchannels = ["sms"]\ntemplate = "Bad Name"\n',
            "ladder.consultative[0].template: String should match pattern",
        ),
    ],
    ids=["decimal exponent", "integer of 5,000 digits", "template not a name"],
)
def test_values_that_once_escaped_as_tracebacks(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(expected in problem for problem in problems), problems


def test_missing_tactic_ladder(tmp_path: Path) -> None:
    document = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    del document["ladder"]["preservation"]
    with pytest.raises(ConfigError) as caught:
        parse_settings(document, "cfg.toml", tmp_path)
    assert any("missing: preservation" in p for p in caught.value.problems)


def test_not_toml(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "[company\nname = 1\n")
    assert len(problems) == 1 and "dunbot.toml" in problems[0]


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `dunbot init`"):
        load_settings(tmp_path / "absent.toml")


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "dunbot.toml"
    path.write_text(
        '[email]\ntransport = "smtp"\nusername = "bot"\npassword_env = "DUNBOT_TEST_SMTP_PW"\n'
        '[sms]\ntransport = "twilio"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("DUNBOT_TEST_SMTP_PW", raising=False)
    problems = check_settings(path)
    assert f"{path}:email.password_env: environment variable DUNBOT_TEST_SMTP_PW is not set" in problems
    assert f"{path}:sms.auth_token_env: name the environment variable that holds the secret" in problems
    monkeypatch.setenv("DUNBOT_TEST_SMTP_PW", "s3cret")
    assert (
        f"{path}:email.password_env: environment variable DUNBOT_TEST_SMTP_PW is not set"
        not in check_settings(path)
    )


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "dunbot.toml"
    path.write_text('[evidence]\nartifact_dir = "store"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.path(settings.evidence.artifact_dir) == folder.resolve() / "store"
    assert settings.database_url == f"sqlite:///{folder.resolve() / 'dunbot.db'}"


def test_company_en_is_what_english_customers_see(tmp_path: Path) -> None:
    from bot.domain.ledger import Language

    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = (
        example.replace(
            '# [company.en]\n# name = "Example Trading"\n',
            '[company.en]\nname = "Example Trading"\n',
        )
        .replace('# address = "100 Century', 'address = "100 Century')
        .replace('# bank_account = "ICBC', 'bank_account = "ICBC')
    )
    path = tmp_path / "dunbot.toml"
    path.write_text(text, encoding="utf-8")
    company = load_settings(path).company
    english = company.for_language(Language.EN)
    assert english.name == english.legal_name == "Example Trading"  # legal_name defaults to the name
    assert english.address == "100 Century Avenue, Pudong New Area, Shanghai, China"
    assert english.bank_account.startswith("ICBC Shanghai Branch")
    assert english.phone == company.phone and english.email == company.email  # the rest is shared
    assert company.for_language(Language.ZH_CN) is company
    writes_english = company.model_copy(update={"language": Language.EN})
    assert writes_english.for_language(Language.EN) is writes_english  # [company] is English already
    assert Settings().company.for_language(Language.EN) == Settings().company  # none: as written


def test_company_en_needs_its_name_address_and_bank_account(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[company.en]\nname = "Xinghe Precision"\nlegal_name = ""\n')
    file = tmp_path / "dunbot.toml"
    assert f"{file}:company.en.address: Field required" in problems
    assert f"{file}:company.en.bank_account: Field required" in problems
    assert any(p.startswith(f"{file}:company.en.legal_name: String should have at least 1") for p in problems)


def test_sms_opt_out_hints_and_their_override(tmp_path: Path) -> None:
    from bot.domain.ledger import Language

    defaults = Settings().sms
    assert defaults.opt_out_for(Language.EN) == "Reply STOP to opt out"
    assert defaults.opt_out_for(Language.ZH_CN) == "回复TD退订"
    path = tmp_path / "dunbot.toml"
    path.write_text('[sms.opt_out_text]\nen = "Text STOP to end these messages"\n', encoding="utf-8")
    sms = load_settings(path).sms
    assert sms.opt_out_for(Language.EN) == "Text STOP to end these messages"
    assert sms.opt_out_for(Language.ZH_CN) == "回复TD退订"  # a language not overridden keeps its own
    path.write_text("[sms]\nopt_out_hint = false\n", encoding="utf-8")
    assert load_settings(path).sms.opt_out_for(Language.EN) == ""
    problems = _problems(tmp_path, '[sms.opt_out_text]\n"zh-CN" = " "\n')
    assert problems == [
        f"{path}:sms.opt_out_text: an opt-out text cannot be empty; set opt_out_hint = false for none"
    ]
    problems = _problems(tmp_path, '[sms.opt_out_text]\nfr = "STOP"\n')
    assert len(problems) == 1 and problems[0].startswith(f"{path}:sms.opt_out_text.fr"), problems


def test_public_url_is_http_and_needs_the_session_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "dunbot.toml"
    problems = _problems(tmp_path, '[web]\npublic_url = "ftp://dunbot.example.com"\n')
    assert any(p.startswith(f"{file}:web.public_url: public_url is an http(s) URL") for p in problems)
    file.write_text('[web]\npublic_url = "https://dunbot.example.com/"\n', encoding="utf-8")
    assert load_settings(file).web.public_url == "https://dunbot.example.com"
    assert f"{file}:web.session_secret_env: name the environment variable that holds the secret" in (
        check_settings(file)
    )
    file.write_text(
        '[web]\npublic_url = "https://dunbot.example.com"\nsession_secret_env = "DUNBOT_TEST_SESSION"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("DUNBOT_TEST_SESSION", raising=False)
    assert f"{file}:web.session_secret_env: environment variable DUNBOT_TEST_SESSION is not set" in (
        check_settings(file)
    )
    monkeypatch.setenv("DUNBOT_TEST_SESSION", "s")
    assert not [p for p in check_settings(file) if "web." in p]


@pytest.mark.parametrize(
    "reply_to",
    ["ar@example.com, boss@example.com", "AR <ar@example.com>", "ar@example.com\nBcc: x@y.z", "ar"],
)
def test_reply_to_is_one_bare_address(tmp_path: Path, reply_to: str) -> None:
    problems = _problems(tmp_path, f"[email]\nreply_to = {json.dumps(reply_to)}\n")
    assert problems == [
        f'{tmp_path / "dunbot.toml"}:email.reply_to: reply_to is one e-mail address, e.g. "ar-replies@example.com"'
    ]


@pytest.mark.parametrize("name", ["星河\t应收", "AR\nBcc: x@y.z", "AR\u0007"])
def test_from_name_refuses_control_characters(tmp_path: Path, name: str) -> None:
    """A tab or line break in the From display name would be folded or dropped by mail readers: refused."""
    problems = _problems(tmp_path, f"[email]\nfrom_name = {json.dumps(name)}\n")
    assert problems == [
        f"{tmp_path / 'dunbot.toml'}:email.from_name: from_name may not contain a tab, a line break or "
        "another control character"
    ]


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        ("08:00-20:00", time(8), time(20)),
        ("00:00-24:00", time(0), time(0)),  # all day: the domain writes it start == end
        ("08:00-24:00", time(8), time(0)),  # to the end of the day
        ("22:00-06:00", time(22), time(6)),  # across midnight
        ("20:00-08:00", time(20), time(8)),
    ],
)
def test_windows_all_day_to_midnight_and_across_midnight_are_accepted(
    tmp_path: Path, window: str, start: time, end: time
) -> None:
    path = tmp_path / "dunbot.toml"
    path.write_text(f'[compliance]\nwindow = "{window}"\n', encoding="utf-8")
    policy = load_settings(path).planning_policy().compliance
    assert (policy.window_start, policy.window_end) == (start, end)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("08:00-08:00", "'08:00-08:00' is empty"),
        ("00:00-00:00", "'00:00-00:00' is empty"),
        ("24:00-08:00", "a window cannot start at 24:00"),
        ("08:00-24:30", "'08:00-24:30' is not a valid time range"),
        ("8:00-20:00", 'window is "HH:MM-HH:MM"'),
    ],
)
def test_bad_windows_say_what_is_wrong(tmp_path: Path, window: str, message: str) -> None:
    problems = _problems(tmp_path, f'[compliance]\nwindow = "{window}"\n')
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'dunbot.toml'}:compliance.window: ")
    assert message in problems[0]


def test_bot_config_alone_leaves_the_cron_and_templates_to_its_caller(tmp_path: Path) -> None:
    # bot.config reads the file and nothing else: the checks that need APScheduler and the template
    # folders come from bot.cli.config_checks, which every command reads the config through.
    from bot import config

    document = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    document["schedule"]["cron"] = "0 25 * * 1-5"
    document["ladder"]["procedural"][3]["template"] = "no_such_letter"
    settings = config.parse_settings(document, "dunbot.toml", tmp_path)
    assert settings.schedule.cron == "0 25 * * 1-5"
    with pytest.raises(ConfigError) as refused:
        parse_settings(document, "dunbot.toml", tmp_path)
    assert refused.value.problems[0].startswith("dunbot.toml:schedule.cron: Error validating expression '25'")
    assert "dunbot.toml:ladder.procedural[3].template: no template sms/zh-CN/no_such_letter.j2 for " in (
        "\n".join(refused.value.problems)
    )
