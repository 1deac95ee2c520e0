"""The sample generators live in ``schemas.samples`` (the demo uses them too); tests import them here."""
from schemas.samples import *  # noqa: F401,F403
from schemas.samples import (BREAKS, COUNTY, GENERATORS, TOWNS, VILLAGES, break_record, broken,  # noqa: F401
                             households, petitions, resident_id, services, wrong_check_char)
