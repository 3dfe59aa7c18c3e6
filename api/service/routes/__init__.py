"""Routers, one per audience or resource."""
