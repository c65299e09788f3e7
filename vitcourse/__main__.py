"""`python -m vitcourse exercises` / `grade tp1 submissions/ --out grades/` / `final ...`."""
import sys

from .grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
