"""Imports every model so that the metadata is complete (Alembic, create_all in tests)."""
from .activity.models import Activity
from .auth.models import ApiToken, User
from .connections.models import Connection
from .datasets.models import Dataset, Resource, Tag, dataset_tag
from .datastore.models import DatastoreTable, QuarantinedRecord, Record, RecordSchema
from .demands.models import Demand
from .departments.models import Department, Membership
from .freshness.models import FreshnessState
from .groups.models import DatasetGroup
from .review.models import DatasetReview
from .search.models import CatalogVersion
from .objections.models import Objection, ObjectionRecord
from .sharing.models import AccessLogEntry, AccessLogHead, Grant, ShareNotice, ShareRequest, UsageRecord
from .sync.models import SyncJob, SyncRun
from .webhooks.models import WebhookDelivery, WebhookSubscription

__all__ = ["CatalogVersion", "DatasetGroup", "DatasetReview", "Demand", "Objection", "ObjectionRecord", "Connection", "FreshnessState", "WebhookDelivery", "WebhookSubscription", "SyncJob", "SyncRun", "AccessLogEntry", "AccessLogHead", "Grant", "ShareRequest", "ShareNotice", "UsageRecord", "Activity", "ApiToken", "Dataset", "DatastoreTable", "Department", "Membership",
           "QuarantinedRecord", "Record", "RecordSchema", "Resource", "Tag", "User", "dataset_tag"]
