"""HTMX dashboard views: one module per page; each page is one template with partial regions."""
