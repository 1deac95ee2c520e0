"""Connections (数据源): the named places sync jobs may read from, registered by sysadmins."""
