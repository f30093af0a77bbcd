"""The store: the schema, the store's queries, and migrations."""
