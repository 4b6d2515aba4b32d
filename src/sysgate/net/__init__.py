"""Sockets: AF_UNIX, AF_INET and AF_INET6 over host sockets (Linux's net/)."""
