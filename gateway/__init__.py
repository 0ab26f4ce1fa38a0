"""Cookie consent and analytics gateway for learning sites."""

from .consent import Consent
from .middleware import ConsentMiddleware
from .settings import Category, Settings, SettingsError

__all__ = ["Category", "Consent", "ConsentMiddleware", "Settings", "SettingsError"]
__version__ = "0.1.0"
