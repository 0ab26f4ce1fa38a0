"""Cookie consent and analytics gateway for learning sites."""

from gateway.app import ConsentMiddleware
from gateway.consent.state import Consent
from gateway.settings import Category, CollectSettings, Settings, SettingsError

__all__ = ["Category", "CollectSettings", "Consent", "ConsentMiddleware", "Settings", "SettingsError"]
__version__ = "0.1.0"
