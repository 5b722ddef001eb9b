"""HTTP plumbing shared by the broker and the backup relay: authentication, limits, problems."""
