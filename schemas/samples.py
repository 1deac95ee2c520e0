"""Deterministic, realistic household, service and petition records (and named ways to break them).

Used by the demo, the tests and the benchmarks.

``households(n, seed)``, ``services(n, seed)`` and ``petitions(n, seed)`` yield ``n`` records that are
valid against ``schemas/records/<kind>/1.json``. The same ``(n, seed)`` always gives the same records,
and a shorter run is a prefix of a longer one with the same seed (``households(10, 1)`` are the first
ten of ``households(1000, 1)``). Primary keys are unique within one run. Records are plain JSON
(``dict``/``list``/``str``/``int``/``bool``); each call builds fresh objects, so callers may mutate them.

The places are Ningshan County (宁陕县, 610923) and its towns (township codes 100-199 are 镇); the
village codes (200-399, village committees), names, item codes and organisations are made up.

``break_record(kind, record, how)`` returns a copy broken in one named way (``BREAKS[kind]`` lists
them) with the field path and JSON Schema keyword the error must name; ``broken(kind, n, seed)``
yields ``n`` such cases, going round every way in turn.
"""
from __future__ import annotations

import copy
import datetime as dt
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from schemas.formats import resident_id_check_char, uscc_check_char

Record = dict[str, Any]

COUNTY = "610923"
#: the towns of Ningshan County with their statistical township codes (镇: 100-199)
TOWNS = (("城关镇", "100"), ("四亩地镇", "101"), ("江口回族镇", "102"), ("广货街镇", "103"),
         ("龙王镇", "104"), ("筒车湾镇", "105"), ("金川镇", "106"), ("皇冠镇", "107"),
         ("太山庙镇", "108"), ("梅子镇", "109"), ("新场镇", "110"))
#: village names, coded 200 + index in every town (made up)
VILLAGES = ("东河村", "寨沟村", "新建村", "双河村", "龙潭村", "朝阳村", "胜利村", "联合村", "沙坪村", "青山村")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ("建", "国", "华", "明", "伟", "芳", "娟", "秀", "英", "军", "平", "兰", "红", "强", "磊", "洋",
         "勇", "艳", "杰", "娜", "涛", "敏", "静", "丽", "刚", "霞", "鹏", "辉", "玲", "斌", "文", "春",
         "海", "宁", "安", "德", "志", "玉", "梅", "成")
WORK_PLACES = ("西安市雁塔区", "西安市长安区", "安康市汉滨区", "浙江省宁波市", "广东省东莞市",
               "江苏省苏州市", "宁陕县城关镇", "山西省太原市")
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "153", "155", "156", "157", "158", "159", "173", "177", "180", "181", "182", "183",
                   "186", "187", "188", "189", "191", "193", "198", "199")

#: (item code, item name, department, promised working days); the codes are illustrative
SERVICE_ITEMS = (
    ("000105001000", "城乡居民基本养老保险参保登记", "宁陕县人力资源和社会保障局", 1),
    ("000109002000", "最低生活保障对象认定", "宁陕县民政局", 20),
    ("000111004000", "困难残疾人生活补贴和重度残疾人护理补贴申请", "宁陕县民政局", 15),
    ("000120003000", "个体工商户设立登记", "宁陕县市场监督管理局", 3),
    ("000150002000", "食品经营许可", "宁陕县市场监督管理局", 10),
    ("000123005000", "城乡居民基本医疗保险参保登记", "宁陕县医疗保障局", 1),
    ("000142001000", "农村村民宅基地和建房（规划许可）审批", "宁陕县农业农村局", 20),
    ("000117001000", "出生医学证明办理", "宁陕县卫生健康局", 1),
)
ORGANISATION_KINDS = (("91", "旅游开发有限公司"), ("91", "商贸有限公司"), ("93", "农民专业合作社"),
                      ("92", "农家乐"), ("52", "志愿服务协会"))
ORGANISATION_WORDS = ("秦岭", "山水", "绿源", "丰收", "宁东", "长安", "金川", "龙王", "汶水", "皇冠")
REJECT_REASONS = ("申请材料不齐全，已一次性告知需补正的材料", "不属于本部门职权范围，已告知向有关部门申请",
                  "申请人不符合申请条件")

#: (category, issue, responsible department)
PETITION_ISSUES = (
    ("城乡建设", "通村道路雨后损毁，出行困难", "宁陕县交通运输局"),
    ("城乡建设", "自来水供水不稳定，夏季经常停水", "宁陕县水利局"),
    ("社会保障", "家庭困难，申请最低生活保障", "宁陕县民政局"),
    ("劳动人事", "在县内工地务工，工资被拖欠三个月", "宁陕县人力资源和社会保障局"),
    ("自然资源", "与邻居宅基地界线发生纠纷", "宁陕县自然资源局"),
    ("卫生健康", "异地就医住院费用报销进度缓慢", "宁陕县医疗保障局"),
    ("生态环境", "附近养殖场气味扰民", "安康市生态环境局宁陕分局"),
    ("农业农村", "土地流转费用未按合同支付", "宁陕县农业农村局"),
)
REPLIES = ("经调查核实，已协调相关单位于近期处理完毕，并向信访人当面反馈。",
           "经核查，诉求部分属实，已责成责任单位限期整改。",
           "已依法依规作出处理意见，并告知信访人不服可申请复查。")
FOLLOW_UP_NOTES = ("信访人对处理结果表示认可", "信访人表示问题已解决", "信访人希望进一步跟踪落实")

UTC8 = "+08:00"


# --- building blocks ----------------------------------------------------------------------------


def person_name(rng: random.Random) -> str:
    """A Chinese personal name: one-character surname and one or two given characters."""
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def resident_id(rng: random.Random, birth: dt.date, male: bool, region: str = COUNTY) -> str:
    """A valid GB 11643 resident ID: region, birth date, sequence (odd for men) and check digit."""
    sequence = rng.randrange(50, 500) * 2 + (1 if male else 0)
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)


def birth_date(rng: random.Random, first_year: int, last_year: int) -> dt.date:
    start, end = dt.date(first_year, 1, 1), dt.date(last_year, 12, 31)
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


def credit_code(rng: random.Random, kind: str = "91") -> str:
    """A valid GB 32100 credit code registered in Ningshan: the 9-character organisation code
    carries its own GB 11714 check character."""
    body = f"{rng.randrange(10 ** 8):08d}"
    remainder = 11 - sum(int(d) * w for d, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2))) % 11
    org_code = body + {10: "X", 11: "0"}.get(remainder, str(remainder))
    first17 = f"{kind}{COUNTY}{org_code}"
    return first17 + uscc_check_char(first17)


def timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + UTC8


def day_between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def office_time(rng: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.choice((8, 9, 10, 11, 14, 15, 16, 17)), rng.randrange(60),
                                            rng.randrange(60)))


def place(rng: random.Random) -> tuple[str, str, str]:
    """(town, village, 12-digit statistical division code)."""
    town_index, village_index = rng.randrange(len(TOWNS)), rng.randrange(len(VILLAGES))
    town, township = TOWNS[town_index]
    return town, VILLAGES[village_index], f"{COUNTY}{township}{200 + village_index:03d}"


# --- households ---------------------------------------------------------------------------------


def _member(rng: random.Random, relation: str, born: dt.date, male: bool, name: str | None = None,
            surname: str | None = None) -> Record:
    if name is None:
        name = person_name(rng)
        if surname:
            name = surname + name[1:]
    member: Record = {"name": name, "id_number": resident_id(rng, born, male), "sex": "1" if male else "2",
                      "relation": relation}
    age = 2026 - born.year
    if 18 <= age <= 60:
        away = rng.random() < 0.3
        member["working_away"] = away
        if away:
            member["work_place"] = rng.choice(WORK_PLACES)
    if age >= 16 and rng.random() < 0.8:
        member["phone"] = mobile(rng)
    return member


def households(n: int, seed: int = 0) -> Iterator[Record]:
    """``n`` valid household (住户) records."""
    rng = random.Random(f"household:{seed}")
    used: set[str] = set()
    for _ in range(n):
        town, village, division = place(rng)
        while True:
            group, number = rng.randint(1, 9), rng.randint(1, 9999)
            household_number = f"{division}{group:02d}{number:04d}"
            if household_number not in used:
                used.add(household_number)
                break
        head_male = rng.random() < 0.85
        head_born = birth_date(rng, 1945, 1995)
        head_name = person_name(rng)
        surname = head_name[0]
        head = _member(rng, "02", head_born, head_male, name=head_name)
        members = [head]
        if rng.random() < 0.75:
            members.append(_member(rng, "10", birth_date(rng, head_born.year - 3, head_born.year + 3),
                                   not head_male))
        # children take the father's surname; a woman heading the household often has her own
        family = surname if head_male or rng.random() < 0.3 else None
        for _child in range(rng.choice((0, 1, 1, 2, 2, 3))):
            son = rng.random() < 0.5
            born = birth_date(rng, min(head_born.year + 20, 2020), min(head_born.year + 38, 2022))
            members.append(_member(rng, "20" if son else "30", born, son, surname=family))
        if head_born.year >= 1970 and rng.random() < 0.2:
            parent_male = rng.random() < 0.5
            members.append(_member(rng, "50", birth_date(rng, head_born.year - 32, head_born.year - 20),
                                   parent_male, surname=surname if parent_male else None))
        if head_born.year <= 1965 and rng.random() < 0.3:
            boy = rng.random() < 0.5
            members.append(_member(rng, "40", birth_date(rng, 2008, 2020), boy, surname=family))
        record: Record = {
            "household_number": household_number,
            "head_name": head_name,
            "head_id_number": head["id_number"],
            "members": members,
            "address": f"陕西省安康市宁陕县{town}{village}{group}组{rng.randint(1, 120)}号",
            "division_code": division,
            "town": town,
            "village": village,
        }
        if rng.random() < 0.95:
            record["contact_cadre"] = person_name(rng)
        if rng.random() < 0.9:
            record["grid_worker"] = person_name(rng)
        if rng.random() < 0.85:
            record["last_visit_date"] = day_between(rng, dt.date(2025, 1, 1), dt.date(2026, 3, 31)).isoformat()
        record["updated_at"] = timestamp(office_time(rng, day_between(rng, dt.date(2025, 1, 1),
                                                                      dt.date(2026, 3, 31))))
        yield record


# --- service cases ------------------------------------------------------------------------------


def _applicant(rng: random.Random) -> Record:
    if rng.random() < 0.75:
        male = rng.random() < 0.5
        applicant = {"type": "person", "name": person_name(rng),
                     "id_number": resident_id(rng, birth_date(rng, 1950, 2005), male)}
    else:
        kind, suffix = rng.choice(ORGANISATION_KINDS)
        applicant = {"type": "organisation", "name": f"宁陕县{rng.choice(ORGANISATION_WORDS)}{suffix}",
                     "credit_code": credit_code(rng, kind)}
    if rng.random() < 0.8:
        applicant["phone"] = mobile(rng)
    return applicant


def services(n: int, seed: int = 0) -> Iterator[Record]:
    """``n`` valid citizen service case (便民服务办件) records."""
    rng = random.Random(f"service:{seed}")
    for index in range(n):
        code, name, department, days = rng.choice(SERVICE_ITEMS)
        channel = rng.choice(("immediate", "online", "online", "nearby", "once"))
        accepted = office_time(rng, day_between(rng, dt.date(2025, 1, 2), dt.date(2026, 3, 31)))
        status = rng.choices(("completed", "processing", "accepted", "rejected", "returned"),
                             weights=(60, 15, 10, 5, 10))[0]
        record: Record = {
            "item_code": code,
            "item_name": name,
            "case_number": f"NS{accepted:%Y%m%d}{index + 1:06d}",
            "applicant": _applicant(rng),
            "department": department,
            "channel": channel,
            "accepted_at": timestamp(accepted),
            "promised_days": 0 if channel == "immediate" else days,
            "status": status,
        }
        if status == "completed":
            if channel == "immediate":
                done = accepted + dt.timedelta(minutes=rng.randint(5, 90))
            else:
                late = rng.random() < 0.08
                done = accepted + dt.timedelta(days=rng.randint(0, days) + (rng.randint(1, 10) if late else 0),
                                               hours=rng.randint(0, 3))
            record["completed_at"] = timestamp(done)
            if rng.random() < 0.7:
                record["satisfaction"] = rng.choices(
                    ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"),
                    weights=(55, 30, 10, 4, 1))[0]
        elif status in ("rejected", "returned"):
            record["reason"] = rng.choice(REJECT_REASONS)
        yield record


# --- petitions ----------------------------------------------------------------------------------


def petitions(n: int, seed: int = 0) -> Iterator[Record]:
    """``n`` valid petition (信访 / 群众诉求) records."""
    rng = random.Random(f"petition:{seed}")
    for index in range(n):
        channel = rng.choices(("hotline", "online", "visit", "letter"), weights=(40, 25, 20, 15))[0]
        town, village, _division = place(rng)
        category, issue, department = rng.choice(PETITION_ISSUES)
        accepted = day_between(rng, dt.date(2025, 1, 2), dt.date(2026, 3, 31))
        deadline = accepted + dt.timedelta(days=60)
        petitioner: Record = {"name": person_name(rng)}
        if channel in ("visit", "letter") or rng.random() < 0.4:
            petitioner["id_number"] = resident_id(rng, birth_date(rng, 1950, 2000), rng.random() < 0.5)
        if rng.random() < 0.9:
            petitioner["phone"] = mobile(rng)
        status = rng.choices(("completed", "replied", "processing", "accepted", "registered", "not_accepted"),
                             weights=(55, 10, 15, 10, 5, 5))[0]
        record: Record = {
            "petition_number": f"XF{accepted:%Y}{index + 1:06d}",
            "channel": channel,
            "petitioner": petitioner,
            "content": f"反映{town}{village}{issue}，请求有关部门协调解决。",
            "category": category,
            "place": f"宁陕县{town}{village}",
            "responsible_unit": department if rng.random() < 0.6 else f"宁陕县{town}人民政府",
            "accepted_on": accepted.isoformat(),
            "deadline": deadline.isoformat(),
            "status": status,
        }
        final = deadline
        if status in ("processing", "replied", "completed") and rng.random() < 0.1:
            final = deadline + dt.timedelta(days=rng.randint(10, 30))
            record["extended_deadline"] = final.isoformat()
        if status in ("replied", "completed"):
            record["reply"] = rng.choice(REPLIES)
        if status == "completed":
            in_time = rng.random() < 0.9
            completed = (accepted + dt.timedelta(days=rng.randint(3, (final - accepted).days)) if in_time
                         else final + dt.timedelta(days=rng.randint(1, 20)))
            record["completed_on"] = completed.isoformat()
            if rng.random() < 0.7:
                record["follow_up_visit"] = {
                    "visited_on": (completed + dt.timedelta(days=rng.randint(1, 10))).isoformat(),
                    "method": rng.choice(("phone", "phone", "in_person", "sms")),
                    "note": rng.choice(FOLLOW_UP_NOTES),
                }
            if rng.random() < 0.8:
                record["satisfaction"] = rng.choices(("satisfied", "basically_satisfied", "dissatisfied"),
                                                     weights=(70, 22, 8))[0]
        yield record


GENERATORS: dict[str, Callable[[int, int], Iterator[Record]]] = {
    "household": households, "service": services, "petition": petitions,
}


# --- breaking records in named ways -------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """A record broken in one named way, and what its error must name."""

    kind: str
    how: str
    record: Record
    path: str     # the dotted field path of the error, e.g. "members.1.id_number"
    keyword: str  # the JSON Schema keyword that fails, e.g. "format"


def wrong_check_char(identifier: str) -> str:
    """The identifier with a different (wrong) last character."""
    return identifier[:-1] + ("1" if identifier[-1] != "1" else "2")


def _full_width(value: str) -> str:
    return value.translate({ord(d): ord(d) - ord("0") + ord("０") for d in "0123456789"})


def _make_organisation(record: Record) -> Record:
    applicant = record["applicant"]
    applicant.pop("id_number", None)
    applicant.update(type="organisation", name="宁陕县秦岭旅游开发有限公司",
                     credit_code=credit_code(random.Random(record["case_number"])))
    return applicant


def _make_person(record: Record) -> Record:
    applicant = record["applicant"]
    applicant.pop("credit_code", None)
    applicant.update(type="person", name="王建国",
                     id_number=resident_id(random.Random(record["case_number"]), dt.date(1980, 5, 1), True))
    return applicant


def _second_member(record: Record) -> int:
    if len(record["members"]) < 2:
        extra = copy.deepcopy(record["members"][0])
        extra.update(relation="99", name="李秀英", sex="2",
                     id_number=resident_id(random.Random(record["household_number"]), dt.date(1990, 3, 8), False))
        record["members"].append(extra)
    return 1


def _complete(record: Record, with_reply: bool = True, with_completed_on: bool = True) -> None:
    record["status"] = "completed"
    if with_reply:
        record.setdefault("reply", REPLIES[0])
    else:
        record.pop("reply", None)
    if with_completed_on:
        record.setdefault("completed_on", record["deadline"])
    else:
        record.pop("completed_on", None)


Breaker = Callable[[Record], tuple[str, str]]


def _setting(field: str, value: Any, keyword: str, inside: str | None = None) -> Breaker:
    """Set ``field`` (of the nested object ``inside``, e.g. "applicant" or "members.0") to ``value``,
    or to ``value(record)`` when it is callable."""
    def breaker(record: Record) -> tuple[str, str]:
        target = record
        for part in (inside.split(".") if inside else []):
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[field] = value(record) if callable(value) else copy.deepcopy(value)
        return (f"{inside}.{field}" if inside else field), keyword
    return breaker


def _removing(field: str, inside: str | None = None) -> Breaker:
    def breaker(record: Record) -> tuple[str, str]:
        (record[inside] if inside else record).pop(field)
        return (f"{inside}.{field}" if inside else field), "required"
    return breaker


def _household_breaks() -> dict[str, Breaker]:
    def member_id_check_digit(r: Record) -> tuple[str, str]:
        i = _second_member(r)
        r["members"][i]["id_number"] = wrong_check_char(r["members"][i]["id_number"])
        return f"members.{i}.id_number", "format"

    def member_id_birth_date(r: Record) -> tuple[str, str]:
        first17 = f"{COUNTY}19990230123"
        r["members"][0]["id_number"] = first17 + resident_id_check_char(first17)
        return "members.0.id_number", "format"

    def working_away_without_place(r: Record) -> tuple[str, str]:
        r["members"][0]["working_away"] = True
        r["members"][0].pop("work_place", None)
        return "members.0.work_place", "required"

    def member_unknown_field(r: Record) -> tuple[str, str]:
        r["members"][0]["nickname"] = "小王"
        return "members.0.nickname", "additionalProperties"

    return {
        "missing_household_number": _removing("household_number"),
        "household_number_too_short": _setting("household_number", lambda r: r["household_number"][:-1], "format"),
        "head_id_check_digit": _setting("head_id_number", lambda r: wrong_check_char(r["head_id_number"]), "format"),
        "head_id_full_width": _setting("head_id_number", lambda r: _full_width(r["head_id_number"]), "format"),
        "member_id_check_digit": member_id_check_digit,
        "member_id_birth_date": member_id_birth_date,
        "member_relation_unknown": _setting("relation", "03", "enum", inside="members.0"),
        "member_sex_in_chinese": _setting("sex", "男", "enum", inside="members.0"),
        "member_phone_landline": _setting("phone", "0915-6821234", "format", inside="members.0"),
        "member_unknown_field": member_unknown_field,
        "working_away_without_place": working_away_without_place,
        "no_members": _setting("members", [], "minItems"),
        "division_code_county_only": _setting("division_code", COUNTY, "pattern"),
        "visit_date_with_slashes": _setting("last_visit_date", "2026/01/03", "format"),
        "updated_at_without_zone": _setting("updated_at", "2026-01-03T09:30:00", "format"),
    }


def _service_breaks() -> dict[str, Breaker]:
    def organisation_without_credit_code(r: Record) -> tuple[str, str]:
        _make_organisation(r).pop("credit_code")
        return "applicant.credit_code", "required"

    def organisation_bad_credit_code(r: Record) -> tuple[str, str]:
        applicant = _make_organisation(r)
        applicant["credit_code"] = wrong_check_char(applicant["credit_code"])
        return "applicant.credit_code", "format"

    def person_without_id(r: Record) -> tuple[str, str]:
        _make_person(r).pop("id_number")
        return "applicant.id_number", "required"

    def completed_without_completed_at(r: Record) -> tuple[str, str]:
        r["status"] = "completed"
        r.pop("completed_at", None)
        return "completed_at", "required"

    def rejected_without_reason(r: Record) -> tuple[str, str]:
        r["status"] = "rejected"
        r.pop("reason", None)
        return "reason", "required"

    return {
        "organisation_without_credit_code": organisation_without_credit_code,
        "organisation_bad_credit_code": organisation_bad_credit_code,
        "person_without_id": person_without_id,
        "completed_without_completed_at": completed_without_completed_at,
        "rejected_without_reason": rejected_without_reason,
        "unknown_applicant_type": _setting("type", "company", "enum", inside="applicant"),
        "negative_promised_days": _setting("promised_days", -1, "minimum"),
        "fractional_promised_days": _setting("promised_days", 1.5, "type"),
        "promised_days_as_text": _setting("promised_days", "5", "type"),
        "channel_in_chinese": _setting("channel", "马上办", "enum"),
        "item_code_in_chinese": _setting("item_code", "事项000105", "pattern"),
        "accepted_at_trailing_newline": _setting("accepted_at", lambda r: r["accepted_at"] + "\n", "format"),
        "missing_department": _removing("department"),
    }


def _petition_breaks() -> dict[str, Breaker]:
    def petitioner_id_check_digit(r: Record) -> tuple[str, str]:
        good = resident_id(random.Random(r["petition_number"]), dt.date(1970, 1, 1), True)
        r["petitioner"]["id_number"] = wrong_check_char(good)
        return "petitioner.id_number", "format"

    def completed_without_reply(r: Record) -> tuple[str, str]:
        _complete(r, with_reply=False)
        return "reply", "required"

    def completed_without_completed_on(r: Record) -> tuple[str, str]:
        _complete(r, with_completed_on=False)
        return "completed_on", "required"

    def follow_up_without_date(r: Record) -> tuple[str, str]:
        r["follow_up_visit"] = {"method": "phone", "note": FOLLOW_UP_NOTES[0]}
        return "follow_up_visit.visited_on", "required"

    def petitioner_unknown_field(r: Record) -> tuple[str, str]:
        r["petitioner"]["address"] = "城关镇"
        return "petitioner.address", "additionalProperties"

    return {
        "missing_content": _removing("content"),
        "channel_in_chinese": _setting("channel", "来访", "enum"),
        "petitioner_unknown_field": petitioner_unknown_field,
        "petitioner_phone_too_short": _setting("phone", "1380013800", "format", inside="petitioner"),
        "petitioner_id_check_digit": petitioner_id_check_digit,
        "petitioner_without_name": _removing("name", inside="petitioner"),
        "completed_without_reply": completed_without_reply,
        "completed_without_completed_on": completed_without_completed_on,
        "satisfaction_of_service_scale": _setting("satisfaction", "very_satisfied", "enum"),
        "deadline_not_a_date": _setting("deadline", "2026-02-30", "format"),
        "follow_up_without_date": follow_up_without_date,
        "status_unknown": _setting("status", "closed", "enum"),
    }


_BREAKERS = {"household": _household_breaks(), "service": _service_breaks(), "petition": _petition_breaks()}

#: the named ways to break a record of each kind
BREAKS: dict[str, tuple[str, ...]] = {kind: tuple(ways) for kind, ways in _BREAKERS.items()}


def break_record(kind: str, record: Record, how: str) -> Broken:
    """A copy of ``record`` broken in the named way (one of ``BREAKS[kind]``)."""
    broken_copy = copy.deepcopy(record)
    path, keyword = _BREAKERS[kind][how](broken_copy)
    return Broken(kind, how, broken_copy, path, keyword)


def broken(kind: str, n: int, seed: int = 0) -> Iterator[Broken]:
    """``n`` invalid records of ``kind``, each broken in one way, going round ``BREAKS[kind]``."""
    ways = BREAKS[kind]
    for index, record in enumerate(GENERATORS[kind](n, seed)):
        yield break_record(kind, record, ways[index % len(ways)])
