"""Code shared by every Offnet process: bus, CouchDB layer, settings, logging, auth and the domain."""
