"""Logging in and out, API tokens on the account page, department members and roles."""
from __future__ import annotations

import re


def test_login_and_logout(browser, catalog):
    response = browser.post("/user/login", {"name": catalog.editor.name, "password": "wrong-password"})
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    response = browser.post("/user/login", {"name": catalog.editor.name, "password": "correct-horse",
                                            "next": "/organization/minzheng"})
    assert response.status_code == 302 and response.headers["Location"] == "/organization/minzheng"
    page = browser.text("/organization/minzheng")
    assert "mz_editor" in page and "退出登录" in page  # members see the member list
    assert browser.post("/user/logout").status_code == 302
    assert "登录" in browser.text("/") and browser.get("/sharing").status_code == 302


def test_login_never_redirects_to_another_site(browser, catalog):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = browser.post("/user/login", {"name": catalog.editor.name, "password": "correct-horse",
                                                "next": target})
        assert response.headers["Location"] == "/dashboard", target


def test_create_a_token_shown_once_and_revoke_it(browser, catalog, api):
    browser.login(catalog.editor.name)
    assert f'href="/user/{catalog.editor.name}"' in browser.text("/dashboard")  # the account page is one click away
    page = browser.text(f"/user/{catalog.editor.name}")
    assert "API 令牌" in page and "宁陕县民政局" in page
    response = browser.post(f"/user/{catalog.editor.name}/tokens",
                            {"token_name": "同步脚本", "scope": "read", "expires_in_days": "90"})
    page = response.get_data(as_text=True)
    secret = re.search(r'<code id="new-token">(cat_[^<]+)</code>', page).group(1)
    assert "只显示这一次" in page
    assert api.call("package_list", token=secret, method="GET").status == 200
    assert secret not in browser.text(f"/user/{catalog.editor.name}")  # never shown again
    token_id = re.search(r'/tokens/([0-9a-f-]{36})/revoke"[^>]*>\s*<input[^>]*>\s*<button[^>]*'
                         r'aria-label="吊销令牌 同步脚本"', page)
    token_id = token_id.group(1) if token_id else re.findall(r"/tokens/([0-9a-f-]{36})/revoke", page)[0]
    response = browser.post(f"/user/{catalog.editor.name}/tokens/{token_id}/revoke")
    assert response.status_code == 302
    assert api.call("package_list", token=secret, method="GET").status == 403


def test_a_token_needs_a_name_and_others_tokens_are_not_yours(browser, catalog):
    browser.login(catalog.editor.name)
    response = browser.post(f"/user/{catalog.editor.name}/tokens", {"token_name": ""})
    assert response.status_code == 422 and "请为令牌命名" in response.get_data(as_text=True)
    # another account's page (an editor is not an admin): refused, and a missing name looks the same
    assert browser.get(f"/user/{catalog.admin.name}").status_code == 403
    assert browser.post(f"/user/{catalog.admin.name}/tokens", {"token_name": "x"}).status_code == 403
    assert browser.get("/user/nobody-here").status_code == 403


def test_a_department_admin_sees_a_members_page_without_its_tokens(browser, catalog):
    browser.login(catalog.admin.name)
    page = browser.text(f"/user/{catalog.editor.name}")
    assert "宁陕县民政局" in page and "API 令牌" not in page


def test_admins_manage_members_and_editors_cannot(browser, catalog):
    browser.login(catalog.editor.name)
    page = browser.text("/organization/minzheng")
    assert "添加成员" not in page
    assert browser.post("/organization/minzheng/members", {"username": "outsider", "role": "editor"}
                        ).status_code == 403
    browser.login(catalog.admin.name)
    page = browser.text("/organization/minzheng")
    assert "添加成员" in page
    response = browser.post("/organization/minzheng/members", {"username": "outsider", "role": "member"})
    assert response.status_code == 302
    page = browser.text("/organization/minzheng")
    assert "outsider 现在是成员。" in page
    response = browser.post("/organization/minzheng/members", {"username": "nobody", "role": "member"})
    assert response.status_code == 422 and "没有这个用户" in response.get_data(as_text=True)
    response = browser.post("/organization/minzheng/members", {"username": "outsider", "role": "king"})
    assert response.status_code == 422
    response = browser.post("/organization/minzheng/members", {"username": "outsider", "action": "remove"})
    assert response.status_code == 302 and "outsider" not in browser.text("/organization/minzheng").split(
        'id="members"')[1].split("添加成员")[0]


def test_the_download_link_works_for_a_logged_in_browser(browser, catalog, app, db_session, make):
    import io

    from catalog.auth.models import User
    from catalog.datasets.resources import create_resource
    from catalog.datasets.service import get_dataset

    make.dataset("minzheng", name="private-file", private=True)
    dataset = get_dataset(db_session, "private-file")
    editor = db_session.get(User, catalog.editor.id)
    resource = create_resource(db_session, editor, dataset, values={"name": "名单", "format": "CSV"},
                               upload=("list.csv", io.BytesIO("户编号\n1\n".encode())),
                               storage_path=app.config["STORAGE_PATH"], site_url="http://localhost")
    db_session.commit()
    url = f"/dataset/{dataset.id}/resource/{resource.id}/download/list.csv"
    assert browser.get(url).status_code == 404  # anonymous: not even its existence
    browser.login(catalog.editor.name)
    assert url in browser.text("/dataset/private-file")
    response = browser.get(url)
    assert response.status_code == 200 and response.data == "户编号\n1\n".encode()


def test_password_guessing_from_one_address_is_slowed_down(app, browser, catalog, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    guesser = {"environ_base": {"REMOTE_ADDR": "198.51.100.7"}}
    for attempt in range(3):
        wrong = browser.post("/user/login", {"name": catalog.editor.name, "password": f"guess-{attempt}"}, **guesser)
        assert wrong.status_code == 401
    refused = browser.post("/user/login", {"name": catalog.editor.name, "password": "correct-horse"}, **guesser)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "登录尝试次数过多" in refused.get_data(as_text=True)
    # another address is not held up, and successful logins spend nothing
    for _ in range(5):
        assert browser.post("/user/login", {"name": catalog.editor.name, "password": "correct-horse"},
                            environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 302
