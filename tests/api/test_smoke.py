def test_status_show(api):
    reply = api.call("status_show", method="GET")
    assert reply.status == 200
    assert reply.result["ckan_version"]


def test_create_and_show_dataset(api, make, sysadmin):
    from tests.conftest import dataset_values
    dept = make.department("mzj")
    created = api.call("package_create", dataset_values(dept["id"]), token=sysadmin.token)
    assert created.status == 200, created.body
    shown = api.call("package_show", {"id": created.result["name"]}, method="GET")
    assert shown.result["title"] == "宁陕县户籍人口信息表 1"
    assert shown.result["organization"]["name"] == "mzj"
