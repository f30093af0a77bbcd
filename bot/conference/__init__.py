"""Conference mode: conferences, their champions, the daily highlights and the report after."""
