"""Marketing-mix modelling (C12): fit adstock and saturation per channel, read ROI."""

# Bootstrap refits behind the fast fit's intervals; here, not in fit.py, so the API's
# route module can name it without importing pandas and scipy before the first request.
DEFAULT_BOOTSTRAP = 30
