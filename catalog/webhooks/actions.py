"""Webhook actions: webhook_create, webhook_list, webhook_show, webhook_delete, webhook_delivery_list."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import CkanDateTime, JsonList, ParamsSchema, id_field, limit_field, offset_field
from ..api.registry import ActionContext, action
from ..datasets.service import show_dataset
from . import service
from .models import DELIVERY_STATES, EVENTS


class SubscriptionOut(Schema):
    id = fields.String()
    package_id = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    creator_user_id = fields.String(allow_none=True)
    created = CkanDateTime()
    modified = CkanDateTime()


class CreatedSubscriptionOut(SubscriptionOut):
    secret = fields.String(metadata={"description": "whsec_… signing secret, shown only in this answer"})


class DeliveryOut(Schema):
    id = fields.String(metadata={"description": "sent as webhook-id"})
    subscription_id = fields.String()
    event = fields.String()
    payload = fields.Dict()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = CkanDateTime()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    log = fields.List(fields.Dict())
    created = CkanDateTime()
    finished = CkanDateTime(allow_none=True)


class WebhookCreateParams(ParamsSchema):
    package_id = id_field("the dataset whose events are sent")
    url = fields.String(required=True, metadata={"description": "http(s) URL that receives the POSTs"})
    events = JsonList(fields.String(), load_default=None,
                      metadata={"description": "any of " + ", ".join(EVENTS) + " (default: all)"})


class WebhookListParams(ParamsSchema):
    package_id = fields.String(load_default=None, metadata={"description": "only this dataset's"})
    offset = offset_field()
    limit = limit_field(100, 1000)


class WebhookIdParams(ParamsSchema):
    id = id_field("subscription id")


class DeliveryListParams(ParamsSchema):
    id = id_field("subscription id")
    status = fields.String(load_default=None, validate=validate.OneOf(DELIVERY_STATES))
    offset = offset_field()
    limit = limit_field(100, 1000)


@action("webhook_create", params=WebhookCreateParams, result=CreatedSubscriptionOut)
def webhook_create(ctx: ActionContext, data: dict) -> dict:
    """Subscribe a URL to a dataset's events; the answer holds the signing secret, shown only once."""
    dataset = show_dataset(ctx.session, ctx.actor, data["package_id"])
    subscription, secret = service.create_subscription(ctx.session, ctx.actor, dataset, url=data["url"],
                                                       events=data["events"], secret_key=ctx.config["SECRET_KEY"])
    return {**SubscriptionOut().dump(subscription), "secret": secret}


@action("webhook_list", params=WebhookListParams, result=[SubscriptionOut], read_only=True)
def webhook_list(ctx: ActionContext, data: dict) -> list:
    """My subscriptions, and those of the datasets I edit (all, for sysadmins)."""
    dataset = show_dataset(ctx.session, ctx.actor, data["package_id"]) if data["package_id"] else None
    return SubscriptionOut(many=True).dump(service.list_subscriptions(
        ctx.session, ctx.actor, dataset=dataset, offset=data["offset"], limit=data["limit"]))


@action("webhook_show", params=WebhookIdParams, result=SubscriptionOut, read_only=True)
def webhook_show(ctx: ActionContext, data: dict) -> dict:
    """One subscription (never its secret)."""
    return SubscriptionOut().dump(service.get_subscription(ctx.session, ctx.actor, data["id"]))


@action("webhook_delete", params=WebhookIdParams, result={"type": "object", "nullable": True})
def webhook_delete(ctx: ActionContext, data: dict) -> None:
    """Remove a subscription and its delivery log."""
    service.delete_subscription(ctx.session, ctx.actor, service.get_subscription(ctx.session, ctx.actor, data["id"]))
    return None


@action("webhook_delivery_list", params=DeliveryListParams, result=[DeliveryOut], read_only=True)
def webhook_delivery_list(ctx: ActionContext, data: dict) -> list:
    """A subscription's deliveries, newest first, with status, tries and each try's answer."""
    subscription = service.get_subscription(ctx.session, ctx.actor, data["id"])
    return DeliveryOut(many=True).dump(service.list_deliveries(
        ctx.session, subscription, status=data["status"], offset=data["offset"], limit=data["limit"]))
