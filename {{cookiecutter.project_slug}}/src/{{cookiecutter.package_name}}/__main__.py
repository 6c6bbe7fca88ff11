"""``python -m {{ cookiecutter.package_name }}``: the project CLI."""

from .cli import main

if __name__ == "__main__":
    main()
