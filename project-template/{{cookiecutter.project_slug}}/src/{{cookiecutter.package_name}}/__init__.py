"""{{ cookiecutter.project_name }}: {{ cookiecutter.description }}"""
from .config import Config, ConfigError, load_config

__version__ = "0.1.0"
__all__ = ["Config", "ConfigError", "load_config", "__version__"]
