"""The provider-agnostic engine: it knows no wire format."""
