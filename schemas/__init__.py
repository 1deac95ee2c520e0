"""The data contracts: JSON Schema documents and the registry that loads and compiles them."""
from .registry import FieldError, SchemaValidator, get_validator, list_schemas, load_schema

__all__ = ["FieldError", "SchemaValidator", "get_validator", "list_schemas", "load_schema"]
