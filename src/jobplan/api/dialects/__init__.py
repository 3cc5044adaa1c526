"""The seed products' APIs, verbatim at their own paths, as thin adapters over the services.

Each dialect parses its own requests, authenticates its own way, calls the service layer and
shapes answers (errors included) the way the original product does.
"""
