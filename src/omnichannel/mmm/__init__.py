"""Marketing-mix modelling (C12): fit adstock and saturation per channel, read ROI."""
