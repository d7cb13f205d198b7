"""autoinform: autoinform campaigns and hotline IVR for an electricity retailer."""

__version__ = "0.1.0"
