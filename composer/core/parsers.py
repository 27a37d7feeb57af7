"""Request parsers shared by every API view (also DRF's default, so no view can miss them).

Kept apart from ``api.py``: DRF imports its default parsers while ``rest_framework.views`` is
still loading, so this module must import nothing from DRF's views.
"""
from rest_framework import exceptions, parsers


class JsonParser(parsers.JSONParser):
    """DRF's JSON parser, except that absurdly nested JSON is a 400, not a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply")
