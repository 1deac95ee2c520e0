"""The landing page: what this catalog holds and where its API is."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from ..datasets.models import Dataset
from ..db import get_session
from ..departments.models import Department

bp = Blueprint("web", __name__, template_folder="templates")


@bp.route("/")
def home():
    """Counts of published datasets and departments, with links to the API."""
    session = get_session()
    datasets = session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(
        Dataset.state == "active", Dataset.private.is_(False)))
    departments = session.scalar(sa.select(sa.func.count()).select_from(Department).where(
        Department.state == "active"))
    return render_template("home.html", datasets=datasets, departments=departments)
