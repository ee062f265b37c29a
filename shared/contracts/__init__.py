"""Published language: the events services exchange (payments.py), and the request bodies of
their public HTTP APIs (requests.py), shared so that no service or client copies them.

Only public events and requests live here. An event a service keeps to itself (say, what
payments stores in its event store) belongs to that service's ``domain`` module.
"""
