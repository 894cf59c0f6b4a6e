"""The web app's views, one module per page or small family of pages.

Each view is a plain function ``view(context, request) -> Response`` over an explicit
``AppContext`` (flows/web/context.py); flows/web/routes.py declares every route.
"""
