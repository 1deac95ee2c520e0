"""The relevance test set: a fixed catalog and, per query, the results a county officer expects.

The catalog is ``corpus.generate(CORPUS_SIZE)`` (the Ningshan County departments' datasets, in
load order ``0..199``) followed by ``EXTRA_DATASETS`` (``200..``), written by hand for cases the
generator does not make: a title in traditional characters, an English title, an abstract-only
mention, two equally good datasets that differ only in when they were modified, a private and a
deleted dataset. The test fixes each dataset's ``metadata_modified`` to its load position in
minutes (or ``modified_at``), so "most recent" means "loaded later" unless said otherwise.

The expectations were written from the data (titles, abstracts, tags, codes, departments), not
by running the search. The ranking rule they encode: datasets whose title contains more of the
query's words come first (a title match beats an abstract, tag, department or code match); among
equals the most recently modified comes first.

Keys of ``expect`` (see ``test_relevance.check``):

* ``top``: the first results, in this exact order;
* ``then``: the results right after ``top``, in any order;
* ``all``: the complete result set, in any order (and ``count`` is its size);
* ``count``: the total number of matches;
* ``includes`` / ``excludes``: names that must / must not be among the first 50 results;
* ``facets``: facet counts ``{field: {value: count}}``.
"""
from __future__ import annotations

CORPUS_SIZE = 200
_BASE = {"share_type": "unconditional", "open_type": "unconditional", "update_cycle": "monthly",
         "items": [{"name": "名称", "type": "C"}]}
EXTRA_DATASETS = [
    {**_BASE, "name": "ns-huji-biandong-tw", "title": "寧陝縣戶籍變動統計表", "org": "ningshan-gaj",
     "notes": "按月統計全縣戶籍遷入、遷出及變更情況。", "tags": ["統計"], "resource_code": "101001/900001",
     "category": "101001", "formats": ["XLSX"]},
    {**_BASE, "name": "ns-kunnan-jiuzhu-zijin", "title": "城乡困难群众救助资金发放情况", "org": "ningshan-mzj",
     "notes": "汇总低保、特困供养、临时救助等社会救助资金的月度发放明细。", "tags": ["社会救助"],
     "resource_code": "201/900001", "category": "201", "formats": ["CSV"]},
    {**_BASE, "name": "ns-gis-basemap", "title": "Ningshan GIS Base Map (WMTS)", "org": "ningshan-zrzyj",
     "notes": "全县1:10000基础地理底图，提供WMTS和REST API服务。", "tags": ["GIS", "地图"],
     "resource_code": "401002/900001", "category": "401002", "formats": ["API"]},
    {**_BASE, "name": "ns-hezhang-xunhe-a", "title": "宁陕县河长制巡河记录", "org": "ningshan-zrzyj",
     "notes": "河长巡河的时间、河段与发现的问题。", "tags": ["河长制"], "resource_code": "401/900001",
     "category": "401", "formats": ["CSV"], "modified_at": 900},
    {**_BASE, "name": "ns-hezhang-xunhe-b", "title": "宁陕县河长制巡河记录", "org": "ningshan-zrzyj",
     "notes": "河长巡河的时间、河段与发现的问题。", "tags": ["河长制"], "resource_code": "401/900002",
     "category": "401", "formats": ["CSV"]},
    {**_BASE, "name": "ns-huji-neibu", "title": "户籍档案内部核查名单", "org": "ningshan-gaj",
     "notes": "户籍档案核查中发现问题的人员名单，仅供内部使用。", "tags": ["户籍"], "resource_code": "101001/900002",
     "category": "101001", "formats": ["XLSX"], "private": True},
    {**_BASE, "name": "ns-huji-deleted", "title": "户籍人口旧表（已删除）", "org": "ningshan-gaj",
     "notes": "已被替代的户籍人口表。", "tags": ["户籍"], "resource_code": "101001/900003",
     "category": "101001", "formats": ["CSV"], "delete": True},
    {**_BASE, "name": "ns-jiuzhu-bokuan", "title": "社会救助资金拨付明细", "org": "ningshan-czj",
     "notes": "民政部门申请的低保、特困供养资金的财政拨付记录。", "tags": ["财政"],
     "resource_code": "501/900001", "category": "501", "formats": ["XLSX", "PDF"]},
]

# The 户籍 (household registration) datasets: five titles with 户籍人口 plus one in traditional
# characters; ten birth registrations carry the tag 户籍 without it in their title.
HUJI_TITLES = ["ns-huji-biandong-tw", "ns-huji-renkou-jinchuan-2024", "ns-huji-renkou-longwang",
               "ns-huji-renkou-xinchang-2024", "ns-huji-renkou-xinchang-2023", "ns-huji-renkou"]
HUJI_RENKOU = HUJI_TITLES[1:]
HUJI_TAGGED = ["ns-chusheng-dengji-meizi", "ns-chusheng-dengji-jinchuan-2023",
               "ns-chusheng-dengji-chengguan", "ns-chusheng-dengji-simudi",
               "ns-chusheng-dengji-tongchewan-2021", "ns-chusheng-dengji-simudi-2019",
               "ns-chusheng-dengji-chengguan-2023", "ns-chusheng-dengji-xinchang-2019",
               "ns-chusheng-dengji-2020", "ns-chusheng-dengji"]
# 低保 (subsistence allowance) lists, most recent first; two more datasets mention 低保 in their
# abstract only, one of the civil affairs bureau (mzj) and one of the finance bureau (czj).
DIBAO_TITLES = ["ns-dibao-huangguan-2021", "ns-dibao-xinchang", "ns-dibao-meizi",
                "ns-dibao-simudi-2020", "ns-dibao-jiangkou-2020", "ns-dibao-tongchewan-2024",
                "ns-dibao-taishanmiao-2021", "ns-dibao-tongchewan-2023", "ns-dibao-2021",
                "ns-dibao-xinchang-2020", "ns-dibao"]
XINCHANG = ["ns-tekun-gongyang-xinchang-2021", "ns-qiye-faren-xinchang-2024",
            "ns-shipin-xuke-xinchang-2020", "ns-yanglao-baoxian-xinchang",
            "ns-jiuye-kunnan-xinchang-2019", "ns-dibao-xinchang", "ns-yanglao-baoxian-xinchang-2022",
            "ns-yanglao-baoxian-xinchang-2020", "ns-yanglao-baoxian-xinchang-2021",
            "ns-rexian-gongdan-xinchang-2023", "ns-gaoling-butie-xinchang",
            "ns-rexian-gongdan-xinchang-2020", "ns-linshi-jiuzhu-xinchang", "ns-dibao-xinchang-2020",
            "ns-liudong-renkou-xinchang-2022", "ns-chusheng-dengji-xinchang-2019",
            "ns-huji-renkou-xinchang-2024", "ns-huji-renkou-xinchang-2023"]
YANGLAO_BAOXIAN = ["ns-yanglao-baoxian-xinchang", "ns-yanglao-baoxian-taishanmiao-2022",
                   "ns-yanglao-baoxian-jiangkou-2024", "ns-yanglao-baoxian-2020",
                   "ns-yanglao-baoxian-xinchang-2022", "ns-yanglao-baoxian-simudi-2020",
                   "ns-yanglao-baoxian-chengguan-2022", "ns-yanglao-baoxian-xinchang-2020",
                   "ns-yanglao-baoxian-longwang-2020", "ns-yanglao-baoxian-simudi-2021",
                   "ns-yanglao-baoxian-xinchang-2021", "ns-yanglao-baoxian-2022",
                   "ns-yanglao-baoxian-guanghuojie-2021", "ns-yanglao-baoxian-simudi-2019",
                   "ns-yanglao-baoxian"]
XINFANG_BANLI = ["ns-xinfang-banli-jinchuan-2021", "ns-xinfang-banli-jiangkou-2020",
                 "ns-xinfang-banli-jiangkou-2024", "ns-xinfang-banli-taishanmiao-2022",
                 "ns-xinfang-banli-longwang-2022", "ns-xinfang-banli-2023",
                 "ns-xinfang-banli-longwang-2023", "ns-xinfang-banli"]
# The letters-and-visits bureau (信访局) publishes every dataset below; its name is in the index.
XINFANG_OTHER = ["ns-rexian-gongdan-chengguan-2020", "ns-rexian-gongdan-jiangkou-2020",
                 "ns-rexian-gongdan-xinchang-2023", "ns-rexian-gongdan-2020",
                 "ns-rexian-gongdan-jiangkou-2019", "ns-rexian-gongdan-xinchang-2020",
                 "ns-laifang-dengji-2019", "ns-rexian-gongdan-meizi-2022", "ns-rexian-gongdan",
                 "ns-laifang-dengji"]
REXIAN = [n for n in XINFANG_OTHER if n.startswith("ns-rexian")]
# Datasets that say GIS (tag or abstract "附带GIS空间数据，可在地图上浏览"), the English title first.
GIS = ["ns-gis-basemap", "ns-chusheng-dengji-meizi", "ns-lindi-ziyuan-huangguan-2021",
       "ns-jiuye-kunnan-meizi-2023", "ns-yanglao-jigou-2023", "ns-lindi-ziyuan-jiangkou-2021",
       "ns-shipin-xuke-xinchang-2020", "ns-bianmin-banjian-simudi-2020",
       "ns-xinfang-banli-jiangkou-2024", "ns-shebao-canbao-jiangkou-2023",
       "ns-jiuye-kunnan-jiangkou-2022", "ns-gaoling-butie-huangguan-2023", "ns-hunyin-dengji-2024",
       "ns-getihu-guanghuojie-2022", "ns-getihu-chengguan-2021", "ns-jiuye-kunnan-xinchang-2019",
       "ns-linshi-jiuzhu-2021", "ns-hunyin-dengji-2020", "ns-getihu-2022",
       "ns-linshi-jiuzhu-simudi-2021", "ns-bianmin-banjian-guanghuojie-2021",
       "ns-linshi-jiuzhu-jiangkou-2020", "ns-yanglao-baoxian-xinchang-2022",
       "ns-waichu-wugong-simudi-2021", "ns-waichu-wugong-jinchuan", "ns-getihu-jiangkou-2023",
       "ns-jiuye-kunnan-2019", "ns-budongchan-guanghuojie-2024", "ns-chusheng-dengji-chengguan",
       "ns-xinfang-banli-longwang-2022", "ns-getihu-chengguan-2022", "ns-huimin-butie-meizi",
       "ns-dizhi-zaihai-taishanmiao-2022", "ns-liudong-renkou-taishanmiao",
       "ns-bianmin-banjian-chengguan-2022", "ns-dizhi-zaihai-huangguan-2023",
       "ns-huji-renkou-jinchuan-2024", "ns-chusheng-dengji-simudi",
       "ns-yanglao-baoxian-xinchang-2021", "ns-dizhi-zaihai-chengguan-2022",
       "ns-bianmin-banjian-longwang-2023", "ns-rexian-gongdan-2020", "ns-shebao-canbao-jinchuan-2024",
       "ns-tekun-gongyang-jinchuan-2021", "ns-linshi-jiuzhu-chengguan-2021", "ns-dibao-2021",
       "ns-lindi-ziyuan-taishanmiao", "ns-dizhi-zaihai-longwang-2022", "ns-gaoling-butie-xinchang",
       "ns-getihu-taishanmiao-2021", "ns-qiye-faren-meizi-2024", "ns-dizhi-zaihai-2019",
       "ns-liudong-renkou-guanghuojie-2023", "ns-huimin-butie-jinchuan-2021",
       "ns-gaoling-butie-meizi-2019", "ns-xinfang-banli-longwang-2023", "ns-linshi-jiuzhu-xinchang",
       "ns-chusheng-dengji-simudi-2019", "ns-lindi-ziyuan-chengguan", "ns-budongchan-chengguan-2024",
       "ns-lindi-ziyuan-chengguan-2019", "ns-tudi-liyong", "ns-yanglao-baoxian", "ns-jineng-peixun",
       "ns-shehui-zuzhi", "ns-dizhi-zaihai", "ns-wangshang-xinfang", "ns-lindi-ziyuan",
       "ns-xinfang-banli"]
# The abstract "附带GIS空间数据，可在地图上浏览" (GIS data, browsable on a map), plus the base map.
GIS_MAP = ["ns-gis-basemap", "ns-jiuye-kunnan-meizi-2023", "ns-shipin-xuke-xinchang-2020",
           "ns-bianmin-banjian-simudi-2020", "ns-xinfang-banli-jiangkou-2024",
           "ns-shebao-canbao-jiangkou-2023", "ns-gaoling-butie-huangguan-2023", "ns-hunyin-dengji-2024",
           "ns-getihu-chengguan-2021", "ns-jiuye-kunnan-xinchang-2019", "ns-linshi-jiuzhu-2021",
           "ns-hunyin-dengji-2020", "ns-linshi-jiuzhu-simudi-2021",
           "ns-bianmin-banjian-guanghuojie-2021", "ns-yanglao-baoxian-xinchang-2022",
           "ns-waichu-wugong-simudi-2021", "ns-waichu-wugong-jinchuan", "ns-getihu-jiangkou-2023",
           "ns-budongchan-guanghuojie-2024", "ns-chusheng-dengji-chengguan",
           "ns-xinfang-banli-longwang-2022", "ns-huimin-butie-meizi", "ns-dizhi-zaihai-taishanmiao-2022",
           "ns-bianmin-banjian-chengguan-2022", "ns-dizhi-zaihai-huangguan-2023",
           "ns-huji-renkou-jinchuan-2024", "ns-chusheng-dengji-simudi",
           "ns-yanglao-baoxian-xinchang-2021", "ns-bianmin-banjian-longwang-2023",
           "ns-rexian-gongdan-2020", "ns-tekun-gongyang-jinchuan-2021", "ns-dibao-2021",
           "ns-qiye-faren-meizi-2024", "ns-huimin-butie-jinchuan-2021", "ns-gaoling-butie-meizi-2019",
           "ns-xinfang-banli-longwang-2023", "ns-linshi-jiuzhu-xinchang",
           "ns-chusheng-dengji-simudi-2019", "ns-yanglao-baoxian", "ns-dizhi-zaihai",
           "ns-wangshang-xinfang", "ns-lindi-ziyuan", "ns-xinfang-banli"]
OPEN_DATA = ["ns-linshi-jiuzhu-guanghuojie-2021", "ns-qiye-faren-taishanmiao-2020",
             "ns-rexian-gongdan-jiangkou-2020", "ns-dibao-simudi-2020", "ns-linshi-jiuzhu-2022",
             "ns-xinfang-banli-taishanmiao-2022", "ns-shipin-xuke-longwang-2020",
             "ns-dibao-tongchewan-2023", "ns-yanglao-baoxian-longwang-2020", "ns-qiye-faren-guanghuojie",
             "ns-liudong-renkou-longwang-2021", "ns-qiye-faren-meizi-2024", "ns-qiye-faren-simudi-2024",
             "ns-gaoling-butie-meizi-2019", "ns-tudi-liyong", "ns-qiye-faren", "ns-shehui-zuzhi"]
# Resource codes 101001/...: household, migrant and birth registers of the public security bureau.
CODE_101001 = ["ns-huji-biandong-tw", "ns-chusheng-dengji-meizi", "ns-liudong-renkou-tongchewan-2019",
               "ns-liudong-renkou-simudi-2024", "ns-chusheng-dengji-jinchuan-2023",
               "ns-chusheng-dengji-chengguan", "ns-liudong-renkou-taishanmiao",
               "ns-huji-renkou-jinchuan-2024", "ns-liudong-renkou-longwang-2023", "ns-huji-renkou-longwang",
               "ns-chusheng-dengji-simudi", "ns-chusheng-dengji-tongchewan-2021",
               "ns-liudong-renkou-longwang-2020", "ns-liudong-renkou-longwang-2021",
               "ns-liudong-renkou-guanghuojie-2023", "ns-chusheng-dengji-simudi-2019",
               "ns-chusheng-dengji-chengguan-2023", "ns-liudong-renkou-xinchang-2022",
               "ns-chusheng-dengji-xinchang-2019", "ns-liudong-renkou-guanghuojie-2020",
               "ns-huji-renkou-xinchang-2024", "ns-chusheng-dengji-2020", "ns-liudong-renkou-meizi-2024",
               "ns-huji-renkou-xinchang-2023", "ns-chusheng-dengji", "ns-liudong-renkou", "ns-huji-renkou"]
# Abstracts that say "覆盖宁陕县（行政区划代码610923）范围".
DIVISION_610923 = ["ns-qiye-faren-taishanmiao-2021", "ns-budongchan-guanghuojie-2023",
                   "ns-lindi-ziyuan-huangguan-2021", "ns-lindi-ziyuan-jiangkou-2021",
                   "ns-xinfang-banli-jiangkou-2020", "ns-huimin-butie-guanghuojie", "ns-dibao-xinchang",
                   "ns-bianmin-banjian-chengguan", "ns-yanglao-baoxian-jiangkou-2024",
                   "ns-liudong-renkou-simudi-2024", "ns-shipin-xuke-2019", "ns-jineng-peixun-2021",
                   "ns-dibao-taishanmiao-2021", "ns-tekun-gongyang-huangguan-2021",
                   "ns-getihu-chengguan-2022", "ns-huji-renkou-longwang", "ns-huimin-butie-chengguan-2023",
                   "ns-yanglao-baoxian-simudi-2021", "ns-huimin-butie-2022", "ns-qiye-faren-guanghuojie",
                   "ns-chusheng-dengji-tongchewan-2021", "ns-rexian-gongdan-jiangkou-2019",
                   "ns-waichu-wugong-huangguan", "ns-dizhi-zaihai-longwang-2022",
                   "ns-chusheng-dengji-chengguan-2023", "ns-chusheng-dengji-xinchang-2019",
                   "ns-huji-renkou-xinchang-2024", "ns-shipin-xuke", "ns-shebao-canbao", "ns-yanglao-jigou",
                   "ns-tekun-gongyang", "ns-gaoling-butie", "ns-getihu", "ns-shixiang-mulu",
                   "ns-jiuye-kunnan"]
DIZHI_ZAIHAI = ["ns-dizhi-zaihai-meizi-2020", "ns-dizhi-zaihai-taishanmiao-2022",
                "ns-dizhi-zaihai-huangguan-2023", "ns-dizhi-zaihai-chengguan-2022",
                "ns-dizhi-zaihai-longwang-2022", "ns-dizhi-zaihai-2019", "ns-dizhi-zaihai"]
BUTIE = ["ns-gaoling-butie-jiangkou-2019", "ns-gaoling-butie-longwang-2024",
         "ns-gaoling-butie-huangguan-2023", "ns-huimin-butie-guanghuojie", "ns-huimin-butie-tongchewan-2019",
         "ns-huimin-butie-meizi", "ns-huimin-butie-chengguan-2023", "ns-huimin-butie-jinchuan",
         "ns-huimin-butie-2022", "ns-huimin-butie-meizi-2024", "ns-huimin-butie-longwang-2020",
         "ns-gaoling-butie-xinchang", "ns-huimin-butie-jinchuan-2021", "ns-gaoling-butie-meizi-2019",
         "ns-huimin-butie-tongchewan-2022", "ns-huimin-butie", "ns-gaoling-butie"]
SHEBAO_TAG = ["ns-yanglao-baoxian-xinchang", "ns-shebao-canbao-jiangkou-2023",
              "ns-yanglao-baoxian-taishanmiao-2022", "ns-yanglao-baoxian-jiangkou-2024",
              "ns-yanglao-baoxian-2020", "ns-yanglao-baoxian-xinchang-2022", "ns-yanglao-baoxian-simudi-2020",
              "ns-shebao-canbao-meizi-2021", "ns-yanglao-baoxian-chengguan-2022",
              "ns-yanglao-baoxian-xinchang-2020", "ns-yanglao-baoxian-longwang-2020",
              "ns-yanglao-baoxian-simudi-2021", "ns-yanglao-baoxian-xinchang-2021",
              "ns-shebao-canbao-jinchuan-2024", "ns-yanglao-baoxian-2022",
              "ns-yanglao-baoxian-guanghuojie-2021", "ns-yanglao-baoxian-simudi-2019",
              "ns-shebao-canbao-meizi-2022", "ns-shebao-canbao-longwang-2019", "ns-yanglao-baoxian",
              "ns-shebao-canbao"]
SHEBAO_CANBAO = ["ns-shebao-canbao-jiangkou-2023", "ns-shebao-canbao-meizi-2021",
                 "ns-shebao-canbao-jinchuan-2024", "ns-shebao-canbao-meizi-2022",
                 "ns-shebao-canbao-longwang-2019", "ns-shebao-canbao"]
SHEHUI_JIUZHU = ["ns-kunnan-jiuzhu-zijin", "ns-linshi-jiuzhu-taishanmiao-2021",
                 "ns-tekun-gongyang-chengguan-2024", "ns-tekun-gongyang-guanghuojie-2021",
                 "ns-linshi-jiuzhu-guanghuojie-2021", "ns-linshi-jiuzhu-2021", "ns-dibao-xinchang",
                 "ns-linshi-jiuzhu-simudi-2021", "ns-dibao-meizi", "ns-linshi-jiuzhu-simudi-2019",
                 "ns-linshi-jiuzhu-jiangkou-2020", "ns-dibao-simudi-2020", "ns-linshi-jiuzhu-2022",
                 "ns-dibao-tongchewan-2024", "ns-linshi-jiuzhu-taishanmiao-2024", "ns-dibao-taishanmiao-2021",
                 "ns-dibao-tongchewan-2023", "ns-tekun-gongyang-jinchuan-2021",
                 "ns-linshi-jiuzhu-chengguan-2021", "ns-dibao-2021", "ns-linshi-jiuzhu-xinchang",
                 "ns-dibao-xinchang-2020", "ns-dibao", "ns-linshi-jiuzhu"]


def q(id: str, kinds: str, params: dict, why: str, as_admin: bool = False, **expect) -> dict:
    """One relevance query: an id, its kinds, package_search parameters and what must come back."""
    return {"id": id, "kinds": kinds.split(), "params": params, "why": why, "as_admin": as_admin,
            "expect": expect}


QUERIES = [
    # --- Chinese words ----------------------------------------------------------------------------
    q("zh-huji", "chinese", {"q": "户籍"},
      "titles with 户籍 first, newest first (the traditional-script title too); then the birth "
      "registers that only carry the tag 户籍; never the private or the deleted one",
      top=HUJI_TITLES, then=HUJI_TAGGED, count=16, excludes=["ns-huji-neibu", "ns-huji-deleted"]),
    q("zh-huji-renkou", "chinese", {"q": "户籍人口"},
      "one word run together: the five 户籍人口信息表 titles, newest first, nothing else",
      top=HUJI_RENKOU, count=5),
    q("zh-county-huji", "chinese", {"q": "宁陕县 户籍"},
      "both words in the title beat one: the county-wide household registers come first",
      top=["ns-huji-biandong-tw", "ns-huji-renkou"], count=16),
    q("zh-stopword", "chinese", {"q": "宁陕县的户籍人口"},
      "的 is dropped; the county register has every word in its title",
      top=["ns-huji-renkou"], all=HUJI_RENKOU),
    q("zh-dibao", "chinese", {"q": "低保"},
      "the eleven 低保 lists by recency, then the two datasets that mention 低保 in the abstract",
      top=DIBAO_TITLES, then=["ns-jiuzhu-bokuan", "ns-kunnan-jiuzhu-zijin"], count=13),
    q("zh-town", "chinese", {"q": "新场镇"}, "every dataset of 新场镇 (Xinchang town), newest first",
      top=XINCHANG[:3], all=XINCHANG),
    q("zh-town-short", "chinese", {"q": "新场"}, "the town without 镇 finds the same datasets",
      all=XINCHANG),
    q("zh-two-words", "chinese", {"q": "信访 办理"},
      "both words required: 信访事项办理情况, not the other letters-and-visits datasets",
      all=XINFANG_BANLI),
    q("zh-digits-and-words", "chinese code", {"q": "12345热线"},
      "the 12345 hotline work orders, the number and the word both match", all=REXIAN),
    q("zh-year-word", "chinese code", {"q": "2024年户籍"},
      "a year with a word: only the 2024 household registers", top=["ns-huji-renkou-jinchuan-2024",
                                                                  "ns-huji-renkou-xinchang-2024"],
      count=2),
    q("zh-title-vs-tag", "chinese", {"q": "养老"},
      "养老 in the title (pension insurance, care homes) before the old-age allowance lists that "
      "only carry the tag 养老",
      tiers=[["ns-yanglao-jigou-2023", "ns-yanglao-jigou"] + YANGLAO_BAOXIAN,
             ["ns-gaoling-butie-xinchang", "ns-gaoling-butie-meizi-2019"]], count=19),
    q("zh-dizhi", "chinese", {"q": "地质灾害"}, "geological hazard points, newest first",
      top=DIZHI_ZAIHAI, count=7),
    q("zh-butie", "chinese", {"q": "补贴"}, "both kinds of subsidy lists", all=BUTIE),
    q("zh-jiuzhu", "chinese tag", {"q": "社会救助"},
      "the title that says 社会救助 first; then every dataset tagged or described as social assistance",
      top=["ns-jiuzhu-bokuan"], then=SHEHUI_JIUZHU, count=25),
    q("zh-recency-tie", "chinese", {"q": "河长制"},
      "two identical river-chief logs: the one modified last comes first although created first",
      top=["ns-hezhang-xunhe-a", "ns-hezhang-xunhe-b"], count=2),
    q("zh-nothing", "chinese", {"q": "火星基地"}, "nothing is about a Mars base", count=0),
    q("zh-no-overlap", "chinese", {"q": "低保 机动车"},
      "every word is required: no dataset is about both", count=0),
    # --- Traditional characters --------------------------------------------------------------------
    q("tw-huji-renkou", "traditional", {"q": "戶籍人口"}, "traditional = simplified",
      top=HUJI_RENKOU, count=5),
    q("tw-dibao", "traditional", {"q": "低保對象"}, "the 低保对象名单 lists, not the abstract mentions",
      top=DIBAO_TITLES, count=11),
    q("tw-budongchan", "traditional", {"q": "寧陝縣不動產登記"},
      "the county-wide real estate register has every word in its title",
      top=["ns-budongchan"], count=5),
    q("tw-shebao", "traditional", {"q": "社會保險"}, "social insurance enrolment lists",
      top=SHEBAO_CANBAO, count=6),
    q("tw-xinfang", "traditional", {"q": "信訪"},
      "信访 in the title first; the hotline and visit logs match through the bureau's name",
      tiers=[["ns-xinfang-banli-jinchuan-2021", "ns-wangshang-xinfang-2020"] + XINFANG_BANLI[1:]
             + ["ns-wangshang-xinfang"], XINFANG_OTHER], count=20),
    # --- Pinyin -----------------------------------------------------------------------------------
    q("py-huji", "pinyin", {"q": "huji"}, "full pinyin of 户籍 finds the titles, newest first",
      top=HUJI_TITLES, count=6),
    q("py-hj", "pinyin", {"q": "hj"}, "initials of 户籍", top=HUJI_TITLES, count=6),
    q("py-words", "pinyin", {"q": "Huji RenKou"}, "two pinyin words, any case", top=HUJI_RENKOU, count=5),
    q("py-run-together", "pinyin", {"q": "hujirenkou"}, "pinyin of 户籍人口 written as one word",
      top=HUJI_RENKOU, count=5),
    q("py-dibao", "pinyin", {"q": "dibao"}, "the 低保 lists (not the abstract-only mentions)",
      top=DIBAO_TITLES, count=11),
    q("py-county-dibao", "pinyin", {"q": "ningshan dibao"},
      "宁陕 and 低保 both in the title: the county-wide lists first", top=["ns-dibao-2021", "ns-dibao"],
      count=11),
    q("py-initials", "pinyin", {"q": "ylbx"}, "initials of 养老保险", all=YANGLAO_BAOXIAN),
    q("py-town", "pinyin", {"q": "xinchang"}, "pinyin of 新场", all=XINCHANG),
    # --- English and Latin words ------------------------------------------------------------------
    q("en-gis", "english", {"q": "GIS"},
      "the English GIS title first, then everything tagged or described as GIS", top=["ns-gis-basemap"],
      all=GIS),
    q("en-base-map", "english", {"q": "base map"}, "English words of a title", all=["ns-gis-basemap"]),
    q("en-rest-api", "english", {"q": "REST api"}, "English words of an abstract, any case",
      all=["ns-gis-basemap"]),
    q("en-fullwidth-mixed", "english chinese", {"q": "ＧＩＳ 地图"},
      "full-width letters are folded; GIS with 地图 (map)", top=["ns-gis-basemap"], all=GIS_MAP),
    q("en-tag-hyphen", "english tag", {"q": "open-data"}, "a hyphenated tag, whole",
      all=OPEN_DATA),
    q("en-api-org", "english filter", {"q": "API", "fq": "organization:ningshan-zwfw"},
      "API (tag or abstract) among the government service centre's datasets; a resource in API "
      "format alone does not count (that is fq=res_format:API)",
      all=["ns-bianmin-banjian-chengguan-2019", "ns-bianmin-banjian-guanghuojie-2021",
           "ns-haochaping", "ns-bianmin-banjian"]),
    # --- Codes ------------------------------------------------------------------------------------
    q("code-exact", "code", {"q": "101001/000001"}, "an exact resource code finds its dataset only",
      all=["ns-huji-renkou"]),
    q("code-exact-short", "code", {"q": "201/000002"}, "an exact resource code of another category",
      all=["ns-dibao"]),
    q("code-prefix", "code", {"q": "101001"},
      "the category part of the resource codes: every 101001 register", all=CODE_101001),
    q("code-name", "code", {"q": "ns-dibao"}, "a dataset's URL name finds that dataset only",
      all=["ns-dibao"]),
    q("code-division", "code", {"q": "610923"}, "the county's division code in abstracts",
      all=DIVISION_610923),
    q("code-part-filtered", "code filter", {"q": "000001", "fq": "organization:ningshan-gaj"},
      "the serial part of codes, within the public security bureau",
      all=["ns-shenfenzheng", "ns-jidongche", "ns-huji-renkou"]),
    # --- Filters, tags, negation ------------------------------------------------------------------
    q("fq-dibao-org", "chinese filter", {"q": "低保", "fq": "organization:ningshan-mzj"},
      "within the civil affairs bureau: its lists, then its abstract mention; not the finance bureau's",
      top=DIBAO_TITLES, then=["ns-kunnan-jiuzhu-zijin"], count=12, excludes=["ns-jiuzhu-bokuan"]),
    q("fq-tag-only", "tag filter", {"fq": 'tags:"低保"'}, "tag filter, no words: newest first",
      top=DIBAO_TITLES, count=11),
    q("fq-tag-and-share", "tag filter english",
      {"fq": "tags:GIS share_type:unconditional"}, "tagged GIS and shared without conditions",
      all=["ns-gis-basemap", "ns-lindi-ziyuan-huangguan-2021", "ns-yanglao-jigou-2023",
           "ns-linshi-jiuzhu-2021", "ns-getihu-2022", "ns-bianmin-banjian-guanghuojie-2021",
           "ns-getihu-jiangkou-2023", "ns-getihu-chengguan-2022", "ns-dizhi-zaihai-taishanmiao-2022",
           "ns-dizhi-zaihai-huangguan-2023", "ns-dizhi-zaihai-chengguan-2022",
           "ns-linshi-jiuzhu-chengguan-2021", "ns-lindi-ziyuan-taishanmiao", "ns-dizhi-zaihai-2019",
           "ns-lindi-ziyuan-chengguan", "ns-lindi-ziyuan-chengguan-2019", "ns-dizhi-zaihai",
           "ns-lindi-ziyuan"]),
    q("fq-cycle-or", "tag filter", {"q": "社保", "fq": "update_cycle:(daily OR realtime)"},
      "the tag 社保 with a daily or real-time update cycle",
      all=["ns-yanglao-baoxian-xinchang", "ns-yanglao-baoxian-simudi-2021",
           "ns-yanglao-baoxian-xinchang-2021", "ns-yanglao-baoxian-2022",
           "ns-yanglao-baoxian-guanghuojie-2021", "ns-shebao-canbao-meizi-2022", "ns-shebao-canbao"]),
    q("fq-format", "chinese filter", {"q": "流动人口", "fq": "res_format:csv"},
      "migrant registers with a CSV resource (format matched case-insensitively)",
      all=["ns-liudong-renkou-simudi-2024", "ns-liudong-renkou-longwang-2023",
           "ns-liudong-renkou-longwang-2020", "ns-liudong-renkou-xinchang-2022",
           "ns-liudong-renkou-meizi-2024"]),
    q("neg-tag", "negation chinese", {"q": "户籍", "fq": "-tags:出生"},
      "户籍 without the birth registers tagged 出生; the two untagged ones stay, after the titles",
      top=HUJI_TITLES, then=["ns-chusheng-dengji-chengguan", "ns-chusheng-dengji-chengguan-2023"],
      count=8),
    q("neg-tag-2", "negation", {"q": "信访", "fq": "-tags:网上信访"},
      "信访 without the online petitions tagged 网上信访",
      count=19, excludes=["ns-wangshang-xinfang"], includes=["ns-wangshang-xinfang-2020"]),
    q("neg-org", "negation code", {"q": "101001", "fq": "-organization:ningshan-gaj"},
      "every 101001 dataset belongs to the public security bureau", count=0),
    q("facets", "chinese filter", {"q": "户籍", "facet.field": ["organization", "share_type",
                                                                 "res_format"]},
      "facets count the 16 matches",
      count=16, facets={"organization": {"ningshan-gaj": 16},
                        "share_type": {"conditional": 9, "none": 6, "unconditional": 1},
                        "res_format": {"API": 9, "JSON": 7, "PDF": 6, "XLSX": 5, "CSV": 4}}),
    q("private-for-admin", "chinese filter", {"q": "户籍", "include_private": True},
      "a sysadmin asking for private datasets sees the internal list (newest), never the deleted one",
      as_admin=True, top=["ns-huji-neibu"] + HUJI_TITLES, count=17, excludes=["ns-huji-deleted"]),
    # --- Sorting ----------------------------------------------------------------------------------
    q("sort-title", "sort chinese", {"q": "低保", "sort": "title_string asc"},
      "sorted by title (code point order), not by relevance",
      top=["ns-dibao-simudi-2020", "ns-dibao-xinchang-2020", "ns-dibao-jiangkou-2020",
           "ns-dibao-taishanmiao-2021", "ns-dibao-2021", "ns-dibao-huangguan-2021",
           "ns-dibao-tongchewan-2023", "ns-dibao-tongchewan-2024", "ns-kunnan-jiuzhu-zijin", "ns-dibao",
           "ns-dibao-xinchang", "ns-dibao-meizi", "ns-jiuzhu-bokuan"], count=13),
    q("sort-title-desc-org", "sort filter", {"fq": "organization:ningshan-czj", "sort": "title_string desc",
                                             "rows": 5},
      "the finance bureau's datasets by title, descending",
      top=["ns-huimin-butie-jinchuan", "ns-jiuzhu-bokuan", "ns-huimin-butie-meizi",
           "ns-huimin-butie-guanghuojie", "ns-yusuan-zhixing"], count=14),
    q("sort-modified-asc", "sort chinese", {"q": "户籍人口", "sort": "metadata_modified asc"},
      "oldest first when asked", top=HUJI_RENKOU[::-1], count=5),
]
