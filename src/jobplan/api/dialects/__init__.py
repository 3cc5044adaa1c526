"""The seed products' APIs, verbatim at their own paths, as thin adapters over the services.

Each dialect reads its own headers and requests, calls the service layer and shapes answers
(errors included) the way the original product does. What they share with each other and
with the native API - resolving the caller, the error table, blocking calls, JSON and upload
reading - lives in :mod:`jobplan.api.adapter`, :mod:`jobplan.api.errors` and
:mod:`jobplan.api.uploads`.
"""
