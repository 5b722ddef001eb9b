"""The deconfliction broker: a FastAPI service both parties accept."""
