"""Start FENeRF Studio: `python main.py [--model FILE]`."""
import sys

from fenerf_app.main import main

if __name__ == "__main__":
    sys.exit(main())
