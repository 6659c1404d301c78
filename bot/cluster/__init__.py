"""Several instances on one database: leases (what one instance does alone for a while) and
heartbeats (which instances are alive)."""
