"""The `lake` command and the pieces every stage shares: configuration, lake layout, storage."""
