"""The model lifecycle: versions with metrics, promotion, scheduled retraining (C14)."""
