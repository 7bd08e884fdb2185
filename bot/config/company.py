"""``[company]``: who is writing, and how customers of another language see it (``[company.en]``)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from bot.config.fields import Section, check_timezone
from bot.domain.ledger import Language


class CompanyInLanguage(Section):
    """The company as customers of another language see it (``[company.en]``): the name, address and
    bank details their letters, e-mails and SMS show instead of those in ``[company]``."""

    name: str = Field(min_length=1)
    legal_name: str | None = Field(default=None, min_length=1)  # the name, when unset
    address: str = Field(min_length=1)
    bank_account: str = Field(min_length=1)


class CompanySettings(Section):
    """Who is writing: letterhead, sender, defaults for customers."""

    name: str = "示例贸易有限公司"
    legal_name: str = "示例贸易有限公司"
    address: str = "上海市浦东新区世纪大道100号"
    country: str = "CN"
    timezone: str = "Asia/Shanghai"
    language: Language = Language.ZH_CN
    phone: str = "+86 21 5555 0100"
    email: str = "ar@example.com"
    bank_account: str = "中国工商银行上海分行 1001 2345 6789 0000"
    contact_person: str = ""  # named in notices as the person to contact; "" names only phone and e-mail
    en: CompanyInLanguage | None = None  # [company.en]: the company for English customers

    _tz = field_validator("timezone")(check_timezone)

    def for_language(self, language: Language) -> CompanySettings:
        """The company as a customer writing ``language`` sees it: for English, ``[company.en]`` in
        place of the name, legal name, address and bank account (``[company]`` as written when it is
        not set, or when the company itself writes English)."""
        if language is not Language.EN or self.en is None or self.language is Language.EN:
            return self
        return self.model_copy(
            update={
                "name": self.en.name,
                "legal_name": self.en.legal_name or self.en.name,
                "address": self.en.address,
                "bank_account": self.en.bank_account,
            }
        )

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("country is an ISO 3166 alpha-2 code such as CN or DE")
        return value
