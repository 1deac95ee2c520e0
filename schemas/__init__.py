"""The data contracts: JSON Schema documents and the registry that loads and compiles them."""
from .registry import FieldError, SchemaValidator, get_validator, list_schemas, load_schema
from .validation import (SENSITIVE_KINDS, RecordValidator, check_record_schema, primary_key, record_validator,
                         sensitive_fields)

__all__ = ["FieldError", "SchemaValidator", "get_validator", "list_schemas", "load_schema",
           "SENSITIVE_KINDS", "RecordValidator", "check_record_schema", "primary_key", "record_validator",
           "sensitive_fields"]
