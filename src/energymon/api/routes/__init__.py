"""The API's routers, one module per resource; each ``router(ctx)`` builds its routes over an ``ApiContext``."""
