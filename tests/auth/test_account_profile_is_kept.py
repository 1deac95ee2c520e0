"""What the data authority writes about a new account is kept: its full name, e-mail and "about" text
(an officer's post and telephone, which other departments read on the account page), through the API.
"""
from __future__ import annotations


def test_the_profile_given_when_an_account_is_made_is_shown_back(api, sysadmin):
    about = "民政局社会救助股 数据专员，电话 0775-1234567"
    made = api.call("user_create", {"name": "chen_qi", "password": "first-password", "fullname": "陈七",
                                    "email": "chen.qi@mzj.example.gov.cn", "about": about}, token=sysadmin.token)
    assert made.status == 200, made.body
    shown = api.call("user_show", {"id": "chen_qi"}, token=sysadmin.token)
    assert shown.status == 200, shown.body
    assert shown.result["fullname"] == "陈七"
    assert shown.result["email"] == "chen.qi@mzj.example.gov.cn"
    assert shown.result["about"] == about
