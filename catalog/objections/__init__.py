"""Correction requests (校核 / 数据异议, 政务数据共享条例 art. 26) and the flags they put on records."""
