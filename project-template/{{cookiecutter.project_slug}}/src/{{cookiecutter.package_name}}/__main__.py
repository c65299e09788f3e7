"""`python -m {{ cookiecutter.package_name }} train|evaluate --config configs/baseline.yaml`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
