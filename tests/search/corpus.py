"""Deterministic generator of realistic datasets for a county data catalog (Ningshan, 610923)."""

from __future__ import annotations

import random

DIVISION = "610923"
COUNTY = "宁陕县"

# (slug, title) of the departments that publish data.
ORGS = {
    "ningshan-mzj": "宁陕县民政局",
    "ningshan-gaj": "宁陕县公安局",
    "ningshan-rsj": "宁陕县人力资源和社会保障局",
    "ningshan-xfj": "宁陕县信访局",
    "ningshan-zwfw": "宁陕县政务服务中心",
    "ningshan-zrzyj": "宁陕县自然资源局",
    "ningshan-scjgj": "宁陕县市场监督管理局",
    "ningshan-czj": "宁陕县财政局",
}

# (town title, slug) of the towns of Ningshan County.
TOWNS = [
    ("城关镇", "chengguan"), ("四亩地镇", "simudi"), ("江口回族镇", "jiangkou"),
    ("广货街镇", "guanghuojie"), ("龙王镇", "longwang"), ("筒车湾镇", "tongchewan"),
    ("金川镇", "jinchuan"), ("皇冠镇", "huangguan"), ("太山庙镇", "taishanmiao"),
    ("梅子镇", "meizi"), ("新场镇", "xinchang"),
]

YEARS = list(range(2019, 2025))

# subject title, slug, org, category, town-level?, personal data?, tags, item names
SUBJECTS = [
    ("户籍人口信息表", "huji-renkou", "ningshan-gaj", "101001", True, True, ["户籍", "人口"], ["姓名", "公民身份号码", "性别", "出生日期", "户籍地址"]),
    ("流动人口登记信息", "liudong-renkou", "ningshan-gaj", "101001", True, True, ["流动人口"], ["姓名", "公民身份号码", "现住址", "登记日期"]),
    ("居民身份证办理情况", "shenfenzheng", "ningshan-gaj", "101002", False, True, ["身份证", "户政"], ["受理编号", "姓名", "办理类型", "受理时间"]),
    ("机动车登记信息", "jidongche", "ningshan-gaj", "101003", False, True, ["交通", "车辆"], ["号牌号码", "车辆类型", "登记日期", "使用性质"]),
    ("出生登记信息", "chusheng-dengji", "ningshan-gaj", "101001", True, True, ["户籍", "出生"], ["姓名", "性别", "出生日期", "登记日期"]),
    ("低保对象名单", "dibao", "ningshan-mzj", "201", True, True, ["低保", "社会救助"], ["姓名", "家庭人口数", "保障金额", "所在村组"]),
    ("特困供养人员信息", "tekun-gongyang", "ningshan-mzj", "201", True, True, ["特困", "社会救助"], ["姓名", "供养方式", "供养金额", "所在村组"]),
    ("临时救助发放情况", "linshi-jiuzhu", "ningshan-mzj", "201", True, False, ["社会救助"], ["救助对象", "救助金额", "发放日期", "是否发放"]),
    ("婚姻登记信息", "hunyin-dengji", "ningshan-mzj", "201002", False, True, ["婚姻登记"], ["登记类型", "登记日期", "登记机关"]),
    ("养老机构名录", "yanglao-jigou", "ningshan-mzj", "201003", False, False, ["养老", "民生"], ["机构名称", "地址", "床位数", "联系电话"]),
    ("高龄补贴发放名单", "gaoling-butie", "ningshan-mzj", "201", True, True, ["高龄补贴", "养老"], ["姓名", "年龄", "补贴金额", "发放日期"]),
    ("社会组织登记信息", "shehui-zuzhi", "ningshan-mzj", "201004", False, False, ["社会组织"], ["组织名称", "统一社会信用代码", "登记日期", "业务范围"]),
    ("社会保险参保人员信息", "shebao-canbao", "ningshan-rsj", "202", True, True, ["社保", "参保"], ["姓名", "公民身份号码", "险种", "参保日期", "缴费基数"]),
    ("外出务工人员花名册", "waichu-wugong", "ningshan-rsj", "202001", True, True, ["务工", "就业"], ["姓名", "务工地点", "联系电话", "外出时间"]),
    ("就业困难人员名单", "jiuye-kunnan", "ningshan-rsj", "202001", True, True, ["就业"], ["姓名", "认定类别", "认定日期"]),
    ("职业技能培训信息", "jineng-peixun", "ningshan-rsj", "202002", False, False, ["培训", "就业"], ["培训项目", "培训人数", "开班日期", "补贴金额"]),
    ("城乡居民养老保险待遇发放", "yanglao-baoxian", "ningshan-rsj", "202", True, True, ["社保", "养老"], ["姓名", "待遇金额", "发放月份"]),
    ("信访事项办理情况", "xinfang-banli", "ningshan-xfj", "301001", True, False, ["信访"], ["信访件编号", "信访事项", "受理日期", "办理状态", "是否办结"]),
    ("12345热线工单", "rexian-gongdan", "ningshan-xfj", "301002", True, False, ["12345", "热线", "诉求"], ["工单编号", "诉求内容", "来电时间", "办结时间", "满意度"]),
    ("来访登记信息", "laifang-dengji", "ningshan-xfj", "301001", False, True, ["信访"], ["来访人数", "来访日期", "反映问题"]),
    ("网上信访件处理情况", "wangshang-xinfang", "ningshan-xfj", "301001", False, False, ["信访", "网上信访"], ["信访件编号", "提交时间", "处理结果"]),
    ("便民服务办件信息", "bianmin-banjian", "ningshan-zwfw", "302", True, False, ["便民服务", "政务服务"], ["办件编号", "事项名称", "申请人", "受理时间", "办结时间"]),
    ("政务服务事项目录", "shixiang-mulu", "ningshan-zwfw", "302001", False, False, ["政务服务", "API"], ["事项编码", "事项名称", "实施主体", "法定时限"]),
    ("好差评信息", "haochaping", "ningshan-zwfw", "302", False, False, ["好差评", "政务服务"], ["评价编号", "评价等级", "评价时间"]),
    ("一网通办受理信息", "yiwangtongban", "ningshan-zwfw", "302", False, False, ["一网通办"], ["受理编号", "事项名称", "受理时间"]),
    ("不动产登记信息", "budongchan", "ningshan-zrzyj", "401", True, True, ["不动产", "登记"], ["不动产单元号", "权利人", "坐落", "面积", "登记时间"]),
    ("土地利用现状数据", "tudi-liyong", "ningshan-zrzyj", "401002", False, False, ["GIS", "土地"], ["图斑编号", "地类名称", "图斑面积", "空间范围"]),
    ("地质灾害隐患点信息", "dizhi-zaihai", "ningshan-zrzyj", "401003", True, False, ["地质灾害", "GIS"], ["隐患点编号", "位置", "威胁人数", "经度", "纬度"]),
    ("林地资源信息", "lindi-ziyuan", "ningshan-zrzyj", "401002", True, False, ["林业", "GIS"], ["小班号", "林地面积", "起源", "空间范围"]),
    ("企业法人基本信息", "qiye-faren", "ningshan-scjgj", "102", True, False, ["企业", "法人", "open-data"], ["企业名称", "统一社会信用代码", "法定代表人", "注册资本", "成立日期"]),
    ("个体工商户登记信息", "getihu", "ningshan-scjgj", "102", True, False, ["个体工商户"], ["字号名称", "经营者", "经营场所", "登记日期"]),
    ("食品经营许可信息", "shipin-xuke", "ningshan-scjgj", "102002", True, False, ["食品安全", "许可"], ["许可证编号", "经营者名称", "有效期至"]),
    ("行政处罚信息", "xingzheng-chufa", "ningshan-scjgj", "102003", False, False, ["行政处罚", "信用"], ["处罚决定书文号", "当事人", "处罚内容", "处罚日期"]),
    ("财政预算执行情况", "yusuan-zhixing", "ningshan-czj", "501", False, False, ["财政", "预算"], ["科目编码", "科目名称", "预算数", "执行数"]),
    ("惠民惠农补贴发放信息", "huimin-butie", "ningshan-czj", "501001", True, True, ["惠民惠农", "补贴"], ["姓名", "补贴项目", "补贴金额", "发放日期"]),
    ("政府采购信息", "zhengfu-caigou", "ningshan-czj", "501002", False, False, ["政府采购"], ["项目名称", "采购方式", "中标金额", "公告日期"]),
]

# Data item name -> (type, description).  Types follow the catalog standard:
# C string, N number, Y currency, D date, T datetime, L logical, M memo,
# G general, B binary, I integer, F float.
ITEM_TYPES = {
    "姓名": "C", "公民身份号码": "C", "性别": "C", "出生日期": "D", "户籍地址": "C",
    "现住址": "C", "登记日期": "D", "受理编号": "C", "办理类型": "C", "受理时间": "T",
    "号牌号码": "C", "车辆类型": "C", "使用性质": "C", "家庭人口数": "I", "保障金额": "Y",
    "所在村组": "C", "供养方式": "C", "供养金额": "Y", "救助对象": "C", "救助金额": "Y",
    "发放日期": "D", "是否发放": "L", "登记类型": "C", "登记机关": "C", "机构名称": "C",
    "地址": "C", "床位数": "I", "联系电话": "C", "年龄": "I", "补贴金额": "Y",
    "组织名称": "C", "统一社会信用代码": "C", "业务范围": "M", "险种": "C", "参保日期": "D",
    "缴费基数": "Y", "务工地点": "C", "外出时间": "D", "认定类别": "C", "认定日期": "D",
    "培训项目": "C", "培训人数": "I", "开班日期": "D", "待遇金额": "Y", "发放月份": "C",
    "信访件编号": "C", "信访事项": "M", "受理日期": "D", "办理状态": "C", "是否办结": "L",
    "工单编号": "C", "诉求内容": "M", "来电时间": "T", "办结时间": "T", "满意度": "N",
    "来访人数": "I", "来访日期": "D", "反映问题": "M", "提交时间": "T", "处理结果": "M",
    "办件编号": "C", "事项名称": "C", "申请人": "C", "事项编码": "C", "实施主体": "C",
    "法定时限": "I", "评价编号": "C", "评价等级": "C", "评价时间": "T", "不动产单元号": "C",
    "权利人": "C", "坐落": "C", "面积": "F", "登记时间": "T", "图斑编号": "C",
    "地类名称": "C", "图斑面积": "F", "空间范围": "G", "隐患点编号": "C", "位置": "C",
    "威胁人数": "I", "经度": "F", "纬度": "F", "小班号": "C", "林地面积": "F", "起源": "C",
    "企业名称": "C", "法定代表人": "C", "注册资本": "Y", "成立日期": "D", "字号名称": "C",
    "经营者": "C", "经营场所": "C", "许可证编号": "C", "经营者名称": "C", "有效期至": "D",
    "处罚决定书文号": "C", "当事人": "C", "处罚内容": "M", "处罚日期": "D", "科目编码": "C",
    "科目名称": "C", "预算数": "Y", "执行数": "Y", "补贴项目": "C", "项目名称": "C",
    "采购方式": "C", "中标金额": "Y", "公告日期": "D", "附件": "B",
}

CYCLES = ["realtime", "daily", "weekly", "monthly", "quarterly", "semiannual", "yearly", "irregular"]
CYCLE_TITLES = {
    "realtime": "实时", "daily": "每日", "weekly": "每周", "monthly": "每月",
    "quarterly": "每季度", "semiannual": "每半年", "yearly": "每年", "irregular": "不定期",
}
FORMATS = ["CSV", "XLSX", "JSON", "API", "PDF"]
EXTRA_TAGS = ["民生", "宁陕", "open-data", "API", "统计", "GIS"]
# Condition / reason texts per sharing or opening type.
SHARE_CONDITIONS = {
    "conditional": ["仅限政务部门履行法定职责使用", "需经数据提供部门审核同意后共享", "按需申请，限定使用范围"],
    "none": ["涉及个人隐私，依法不予共享", "涉及国家秘密，不予共享"],
}
OPEN_CONDITIONS = {
    "conditional": ["需实名注册并签署数据使用协议", "经审核后向特定对象开放", "仅开放统计汇总数据"],
    "none": ["涉及个人信息，不予开放", "法律法规规定不予开放"],
}


def _titles() -> tuple[list[tuple], list[tuple]]:
    """Return (canonical, other) (subject, scope, scope slug, year) combinations."""
    canonical, rest = [], []
    for subject in SUBJECTS:
        canonical.append((subject, COUNTY, "", 0))
        scopes = [(COUNTY, "")] + ([(t, s) for t, s in TOWNS] if subject[4] else [])
        for scope, slug in scopes:
            for year in YEARS:
                rest.append((subject, scope, slug, year))
        if subject[4]:
            rest.extend((subject, t, s, 0) for t, s in TOWNS)
    return canonical, rest


def _notes(rng: random.Random, title: str, org_title: str, items: list[dict], cycle: str) -> str:
    """Return a one- or two-sentence Chinese abstract."""
    names = "、".join(item["name"] for item in items[:3])
    first = f"{title}由{org_title}提供，包括{names}等数据项。"
    second = rng.choice([
        "", f"数据{CYCLE_TITLES[cycle]}更新。", "支持通过API接口调用。",
        "附带GIS空间数据，可在地图上浏览。", f"覆盖{COUNTY}（行政区划代码{DIVISION}）范围。",
    ])
    return first + second


def generate(n: int, seed: int = 0) -> list[dict]:
    """Return n deterministic, distinct dataset dicts for the Ningshan catalog."""
    rng = random.Random(seed)
    canonical, rest = _titles()
    rng.shuffle(canonical)
    rng.shuffle(rest)
    combos = canonical + rest
    sequence: dict[str, int] = {}
    datasets = []
    for index in range(n):
        subject, scope, scope_slug, year = combos[index % len(combos)]
        batch = index // len(combos)  # only when n exceeds all combinations
        title_text, slug, org, category, _, personal, tags, item_names = subject
        prefix = f"{year}年" if year else ""
        title = f"{prefix}{scope}{title_text}" + (f"（第{batch + 1}批）" if batch else "")
        name = "-".join(p for p in ("ns", slug, scope_slug, str(year or ""), f"b{batch}" if batch else "") if p)
        sequence[category] = sequence.get(category, 0) + 1
        count = rng.randint(1, min(6, len(item_names) + 2))
        pool = item_names + ["附件", "登记日期"] if count > len(item_names) else item_names
        items = [
            {"name": item, "type": ITEM_TYPES[item], "description": f"{item}（{title_text}）"}
            for item in dict.fromkeys(pool[:count])
        ]
        cycle = rng.choice(["realtime", "daily", "monthly"] if "12345" in title_text else CYCLES)
        share = rng.choice(["conditional", "none"] if personal else ["unconditional", "unconditional", "conditional"])
        opened = "none" if personal else rng.choice(["unconditional", "conditional", "none"])
        extra = rng.sample(EXTRA_TAGS, rng.randint(0, 2))
        all_tags = list(dict.fromkeys(tags + extra))[: rng.randint(1, 4)]
        formats = rng.sample(FORMATS, rng.randint(1, 3))
        datasets.append({
            "name": name,
            "title": title,
            "notes": _notes(rng, title, ORGS[org], items, cycle),
            "org": org,
            "org_title": ORGS[org],
            "tags": all_tags,
            "resource_code": f"{category}/{sequence[category]:06d}",
            "category": category,
            "share_type": share,
            "share_condition": rng.choice(SHARE_CONDITIONS[share]) if share != "unconditional" else "",
            "open_type": opened,
            "open_condition": rng.choice(OPEN_CONDITIONS[opened]) if opened != "unconditional" else "",
            "update_cycle": cycle,
            "formats": formats,
            "items": items,
            "division": DIVISION,
        })
    return datasets
