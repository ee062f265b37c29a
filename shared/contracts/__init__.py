"""Published language: the events services exchange, shared so that no service copies them.

Only public events live here. An event a service keeps to itself (say, what payments stores in
its event store) belongs to that service's ``domain`` module.
"""
