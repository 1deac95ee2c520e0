"""Package metadata and dependencies of the government data resource catalog."""
from setuptools import find_packages, setup

setup(
    name="catalog",
    version="0.1.0",
    description="Government data resource catalog (政务数据资源目录), CKAN-compatible",
    python_requires=">=3.11",
    packages=find_packages(include=["catalog", "catalog.*", "schemas", "schemas.*",
                                    "connectors", "connectors.*"]),
    include_package_data=True,
    package_data={
        "catalog": ["migrations/*.py", "migrations/*.mako", "migrations/versions/*.py",
                    "templates/**/*", "static/**/*", "translations/**/*", "demo_data/*",
                    "web/templates/*"],
        "schemas": ["metadata/*/*.json", "records/*/*.json"],
    },
    install_requires=[
        "Flask>=3.0,<4",
        "SQLAlchemy>=2.0.30,<2.2",
        "marshmallow>=3.20,<5",
        "jsonschema>=4.20,<5",
        "fastjsonschema>=2.19,<3",
        "alembic>=1.13,<2",
        "psycopg[binary]>=3.1,<4",
        "click>=8.1,<9",
        "apispec>=6.3,<7",
        "gunicorn>=22,<28",
        "jieba>=0.42,<0.43",
        "opencc-python-reimplemented>=0.1.7,<0.2",
        "pypinyin>=0.50,<1",
        "openpyxl>=3.1,<4",
        "requests>=2.31,<3",
        "charset-normalizer>=3,<4",
        "PyYAML>=6,<7",
        "croniter>=2,<8",
        "celery[redis]>=5.3,<6",
        "Flask-Limiter[redis]>=4.1,<5",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "ckanapi>=4.7,<5",
            "openapi-spec-validator>=0.7,<1",
            "schemathesis>=4.32,<5",
        ],
    },
    entry_points={"console_scripts": ["catalog=catalog.cli:main"]},
)
