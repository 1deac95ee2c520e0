"""The quarterly ranking of departments and towns (county report; 政务数据共享条例 art. 38)."""
