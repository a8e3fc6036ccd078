"""Rain's DataInstance: the bytes of a data object with its content type."""

from .content_types import decode_value


class DataInstance:
    """An object's content: ``get_bytes()``, ``load()`` (decoded by its content type)."""

    def __init__(self, data, content_type=None, data_object=None):
        self._data = bytes(data)
        self.content_type = content_type or ""
        self.data_object = data_object

    def get_bytes(self):
        return self._data

    def load(self, cache=False):
        return decode_value(self._data, self.content_type)

    def __repr__(self):
        return "<DataInstance {} bytes{}>".format(len(self._data),
                                                  ", " + self.content_type if self.content_type else "")
