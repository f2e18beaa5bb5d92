"""Access control: users, roles and permissions, passwords, API tokens, web sessions, audit.

``permissions`` is the one table of who may do what; ``api`` and ``web`` are the FastAPI
dependencies every router and page goes through; ``users`` is ``platform.users``;
``audit`` is the one function every change is recorded by. docs/access.md explains it.
"""
