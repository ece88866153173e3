"""Customers: whom projects are done for."""

from commons.domain.catalog import CUSTOMER, DESCRIPTION_MAX_LENGTH
from time_tracker_api.catalog_models import COMMON_OUTPUT, name_field, status_field
from time_tracker_api.catalog_resources import filters_parser, register_catalog_resources
from time_tracker_api.serialization import Namespace
from time_tracker_api.validation import NullableString

ns = Namespace("customers", description="Whom projects are done for")

customer_input = ns.model(
    "CustomerInput",
    {
        "name": name_field("customer", "Acme Corp"),
        "description": NullableString(
            max_length=DESCRIPTION_MAX_LENGTH,
            description="About the customer",
            example="Our first customer",
        ),
        "status": status_field(),
    },
)
customer = ns.inherit("Customer", customer_input, dict(COMMON_OUTPUT))

register_catalog_resources(ns, CUSTOMER, customer, customer_input, filters_parser(CUSTOMER))
