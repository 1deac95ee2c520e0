"""placeholder"""
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
]
QUERIES = []
