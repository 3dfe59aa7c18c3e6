"""Request and response bodies (pydantic v2), one module per audience; each carries an example for OpenAPI."""
