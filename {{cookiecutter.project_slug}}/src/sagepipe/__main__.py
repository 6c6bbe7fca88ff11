"""``python -m sagepipe``: run definitions, list runs, manage the model registry."""

from .cli import main

if __name__ == "__main__":
    main()
