"""In-memory fakes of the storage seam, for unit tests."""
