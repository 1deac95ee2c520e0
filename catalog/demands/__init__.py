"""The demand list (供需对接 / 需求清单, 政务数据共享条例 art. 20): data a department needs that the catalog lacks."""
